"""The signature grammar, parsed with Python's own parser (pure; no imports of user modules, no frames).

One-line form: ``question: str, k: int = 3 -> answer: str, confidence: float``; untyped fields are ``str``.

Multi-line form (the ``%%signature`` cell): an optional docstring (the instructions), one field per line with an
optional ``# description`` comment, and a line holding only ``->`` between inputs and outputs.

Each side is parsed as ``def f(<side>): pass`` and the annotation AST is walked; type names resolve from a
whitelist plus the namespace handed in (the notebook's ``user_ns``). Errors are ``SignatureError`` pointing at
the column.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import enum
import keyword
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_lab.errors import SignatureError, did_you_mean
from kaizen_lab.signatures.fields import MISSING, FieldSpec

__all__ = ["BUILTIN_TYPES", "ParsedSignature", "parse_signature_text"]

BUILTIN_TYPES: dict[str, Any] = {
    "str": str, "int": int, "float": float, "bool": bool, "bytes": bytes,
    "list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
    "List": list, "Dict": dict, "Tuple": tuple, "Set": set,
    "Any": Any, "Optional": typing.Optional, "Union": typing.Union, "Literal": typing.Literal,
    "None": type(None), "datetime": datetime.datetime, "date": datetime.date, "time": datetime.time,
    "timedelta": datetime.timedelta, "Decimal": decimal.Decimal, "UUID": uuid.UUID,
}
_GENERIC_ALIASES = {"List": list, "Dict": dict, "Tuple": tuple, "Set": set}
_PREFIX = "def f("


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    inputs: tuple[FieldSpec, ...]
    outputs: tuple[FieldSpec, ...]
    instructions: str


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of the source: its text, and where it starts (1-based line, 0-based column)."""

    text: str
    line: int
    col: int
    comment: str = ""


def parse_signature_text(text: str, namespace: Mapping[str, Any] | None = None) -> ParsedSignature:
    """Parse either form of a signature. Raises only ``SignatureError``."""
    if not isinstance(text, str):
        raise SignatureError(f"a signature must be a string, got {type(text).__name__}")
    try:
        if "\n" in text.strip():
            return _parse_multiline(text, namespace or {})
        return _parse_oneline(text, namespace or {})
    except SignatureError:
        raise
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:  # pathological input
        raise SignatureError(f"could not parse the signature: {exc}", text=text) from None


def _parse_oneline(text: str, ns: Mapping[str, Any]) -> ParsedSignature:
    arrows = _top_level_arrows(text)
    if not arrows:
        raise SignatureError("missing '->' between inputs and outputs (e.g. 'question -> answer')",
                             text=text, column=len(text.rstrip()))
    if len(arrows) > 1:
        raise SignatureError("more than one '->' in the signature", text=text, column=arrows[1])
    at = arrows[0]
    left, right = _Piece(text[:at], 1, 0), _Piece(text[at + 2:], 1, at + 2)
    inputs = _parse_side(left, "input", ns, text, arrow_col=at)
    outputs = _parse_side(right, "output", ns, text, arrow_col=at)
    _check_names(inputs, outputs, text)
    return ParsedSignature(inputs, outputs, "")


def _top_level_arrows(text: str) -> list[int]:
    """Columns of ``->`` outside brackets and string literals."""
    depth, quote, out, i = 0, "", [], 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "-" and text.startswith("->", i) and depth == 0:
            out.append(i)
            i += 1
        i += 1
    return out


def _parse_multiline(text: str, ns: Mapping[str, Any]) -> ParsedSignature:
    lines = text.splitlines()
    instructions: list[str] = []
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index < len(lines) and lines[index].strip()[:3] in ('"""', "'''"):
        quote = lines[index].strip()[:3]
        start = index
        body = lines[index].strip()[3:]
        while quote not in body:
            index += 1
            if index >= len(lines):
                raise SignatureError("unterminated docstring", text=text, line=start + 1,
                                     column=lines[start].index(quote))
            body += "\n" + lines[index].strip()
        instructions.append(body[: body.index(quote)].strip())
        index += 1
    inputs_src: list[_Piece] = []
    outputs_src: list[_Piece] = []
    target = inputs_src
    arrow_line = None
    for number in range(index, len(lines)):
        raw = lines[number]
        code, comment = _split_comment(raw)
        stripped = code.strip()
        if not stripped:
            continue
        if stripped == "->":
            if arrow_line is not None:
                raise SignatureError("more than one '->' line", text=text, line=number + 1,
                                     column=raw.index("->"))
            arrow_line = number + 1
            target = outputs_src
            continue
        if "->" in stripped and _top_level_arrows(code):
            col = _top_level_arrows(code)[0]
            raise SignatureError("in the multi-line form put '->' on a line of its own", text=text,
                                 line=number + 1, column=col)
        target.append(_Piece(code.rstrip().rstrip(","), number + 1, len(code) - len(code.lstrip()), comment))
    if arrow_line is None:
        raise SignatureError("missing a line holding only '->' between the inputs and the outputs",
                             text=text, line=len(lines), column=len(lines[-1]) if lines else 0)
    inputs = tuple(f for p in inputs_src for f in _parse_side(p, "input", ns, text, multiline=True))
    outputs = tuple(f for p in outputs_src for f in _parse_side(p, "output", ns, text, multiline=True))
    if not inputs:
        raise SignatureError("no input fields before '->'", text=text, line=arrow_line, column=0)
    if not outputs:
        raise SignatureError("no output fields after '->'", text=text, line=arrow_line, column=0)
    _check_names(inputs, outputs, text)
    return ParsedSignature(inputs, outputs, "\n".join(instructions))


def _split_comment(line: str) -> tuple[str, str]:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i], line[i + 1:].strip()
    return line, ""


def _parse_side(piece: _Piece, role: str, ns: Mapping[str, Any], text: str, *, arrow_col: int = 0,
                multiline: bool = False) -> tuple[FieldSpec, ...]:
    side = piece.text
    if not side.strip():
        if multiline:
            return ()
        what = "inputs before" if role == "input" else "outputs after"
        raise SignatureError(f"no {what} '->'", text=text, column=arrow_col)
    try:
        tree = ast.parse(f"{_PREFIX}{side}): pass")
    except SyntaxError as exc:
        col = max(0, (exc.offset or 1) - 1 - len(_PREFIX))
        col = min(col, len(side))
        reason = _syntax_reason(side, col, exc)
        raise SignatureError(reason, text=text, line=piece.line, column=piece.col + col,
                             line_text=text.splitlines()[piece.line - 1] if text else side) from None
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise SignatureError("'*', '**' and '/' are not allowed in a signature", text=text, line=piece.line,
                             column=piece.col)
    positional = args.args
    defaults: list[Any] = [MISSING] * (len(positional) - len(args.defaults)) + list(args.defaults)
    fields = []
    for arg, default_node in zip(positional, defaults, strict=True):
        col = piece.col + arg.col_offset - len(_PREFIX)
        if keyword.iskeyword(arg.arg) or arg.arg in {"self", "cls"}:
            raise SignatureError(f"{arg.arg!r} is a reserved word and cannot be a field name", text=text,
                                 line=piece.line, column=col)
        if arg.arg.startswith("_"):
            raise SignatureError(f"field names cannot start with '_' ({arg.arg!r})", text=text,
                                 line=piece.line, column=col)
        if arg.annotation is None:
            annotation, type_text = str, "str"
        else:
            annotation = _resolve(arg.annotation, ns, text, piece)
            type_text = ast.unparse(arg.annotation)
        default = MISSING
        if default_node is not MISSING:
            try:
                default = ast.literal_eval(default_node)
            except ValueError:
                raise SignatureError("a default must be a literal (number, string, list, dict, None ...)",
                                     text=text, line=piece.line,
                                     column=piece.col + default_node.col_offset - len(_PREFIX)) from None
        fields.append(FieldSpec(arg.arg, annotation, type_text, piece.comment if multiline else "",
                                default, role))  # type: ignore[arg-type]
    return tuple(fields)


def _syntax_reason(side: str, col: int, exc: SyntaxError) -> str:
    msg = (exc.msg or "invalid syntax").lower()
    if "duplicate argument" in msg:
        name = msg.split("'")[1] if "'" in msg else "?"
        return f"duplicate field {name!r}"
    if "non-default argument follows default argument" in msg or "parameter without a default" in msg:
        return "a field without a default follows one with a default"
    stripped = side.strip()
    if stripped.endswith(","):
        return "trailing ',' with no field after it"
    if stripped.startswith(","):
        return "',' with no field before it"
    token = side[col:].strip().split(" ")[0] if col < len(side) else ""
    if token and keyword.iskeyword(token.rstrip(":,")):
        return f"{token.rstrip(':,')!r} is a reserved word and cannot be a field name"
    return f"invalid syntax ({exc.msg})"


def _resolve(node: ast.expr, ns: Mapping[str, Any], text: str, piece: _Piece) -> Any:
    def fail(reason: str, at: ast.AST) -> SignatureError:
        return SignatureError(reason, text=text, line=piece.line,
                              column=piece.col + getattr(at, "col_offset", 0) - len(_PREFIX),
                              line_text=text.splitlines()[piece.line - 1] if text else None)

    def lookup(name: str, at: ast.AST) -> Any:
        if name in ns:
            return ns[name]
        if name in BUILTIN_TYPES:
            return BUILTIN_TYPES[name]
        known = [*BUILTIN_TYPES, *(k for k, v in ns.items() if isinstance(v, type))]
        hint = did_you_mean(name, known)
        return _raise(fail(f"unknown type {name!r}{hint}" + ("" if hint else
                      "; define it in the notebook or pass it in the namespace"), at))

    def walk(n: ast.expr) -> Any:
        if isinstance(n, ast.Name):
            value = lookup(n.id, n)
            if value is typing.Optional or value is typing.Union or value is typing.Literal:
                raise fail(f"{n.id} needs parameters, e.g. {n.id}[...]", n)
            return value
        if isinstance(n, ast.Constant) and n.value is None:
            return type(None)
        if isinstance(n, ast.Attribute):
            base = walk(n.value) if not isinstance(n.value, ast.Name) else lookup(n.value.id, n.value)
            if not hasattr(base, n.attr):
                raise fail(f"{ast.unparse(n.value)!r} has no attribute {n.attr!r}", n)
            return getattr(base, n.attr)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            return typing.Union[walk(n.left), walk(n.right)]  # noqa: UP007 - built at run time
        if isinstance(n, ast.Subscript):
            origin_name = n.value.id if isinstance(n.value, ast.Name) else None
            origin = lookup(origin_name, n.value) if origin_name else walk(n.value)
            items = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
            if origin is typing.Literal:
                values = []
                for item in items:
                    if not isinstance(item, ast.Constant):
                        raise fail("Literal[...] takes constants such as 'a', 1 or True", item)
                    values.append(item.value)
                return typing.Literal[tuple(values)]
            args = [walk(i) for i in items]
            origin = _GENERIC_ALIASES.get(origin_name or "", origin)
            if origin is typing.Optional:
                if len(args) != 1:
                    raise fail("Optional[...] takes exactly one type", n)
                return typing.Optional[args[0]]  # noqa: UP045
            if origin is typing.Union:
                return typing.Union[tuple(args)]  # noqa: UP007
            if origin in (list, set, frozenset) and len(args) != 1:
                raise fail(f"{origin.__name__}[...] takes exactly one type", n)
            if origin is dict and len(args) != 2:
                raise fail("dict[...] takes a key and a value type, e.g. dict[str, int]", n)
            if origin is tuple:
                return tuple[tuple(args)]  # type: ignore[misc]
            try:
                return origin[tuple(args)] if len(args) > 1 else origin[args[0]]
            except TypeError:
                raise fail(f"{ast.unparse(n.value)!r} does not take type parameters", n) from None
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            raise fail("quoted types are not supported; write the type name without quotes", n)
        raise fail(f"not a type: {ast.unparse(n)!r}", n)

    value = walk(node)
    if not (isinstance(value, type) or typing.get_origin(value) is not None or value is Any
            or isinstance(value, enum.EnumMeta)):
        raise fail(f"{ast.unparse(node)!r} is not a type", node)
    return value


def _raise(err: Exception) -> Any:
    raise err


def _check_names(inputs: tuple[FieldSpec, ...], outputs: tuple[FieldSpec, ...], text: str) -> None:
    seen: set[str] = set()
    for f in inputs:
        if f.name in seen:
            raise SignatureError(f"duplicate field {f.name!r}", text=text, column=_find(text, f.name, 2))
        seen.add(f.name)
    out_seen: set[str] = set()
    for f in outputs:
        if f.name in seen:
            raise SignatureError(f"{f.name!r} is both an input and an output; rename one of them",
                                 text=text, column=_find(text, f.name, 2) if "\n" not in text else None)
        if f.name in out_seen:
            raise SignatureError(f"duplicate field {f.name!r}", text=text,
                                 column=_find(text, f.name, 2) if "\n" not in text else None)
        out_seen.add(f.name)


def _find(text: str, name: str, nth: int) -> int | None:
    """Column of the ``nth`` whole-word occurrence of ``name`` (for pointing at duplicates)."""
    import re

    hits = [m.start() for m in re.finditer(rf"\b{re.escape(name)}\b", text)]
    return hits[nth - 1] if len(hits) >= nth else (hits[-1] if hits else None)
