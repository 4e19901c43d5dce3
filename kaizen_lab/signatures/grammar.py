"""The signature grammar, parsed with Python's own parser (pure: no imports of user modules, no frames).

One-line form: ``question: str, k: int = 3 -> answer: str, confidence: float``; untyped fields are ``str``.

Multi-line form (the ``%%signature`` cell): an optional docstring (the instructions), one field per line with an
optional ``# description`` comment, and a line holding only ``->`` between inputs and outputs (or the first
output line starting with it: ``-> answer: str, confidence: float``).

Each side is parsed as ``def f(*, <side>): pass`` (keyword-only, so defaults may come in any order) and the
annotation AST is walked; type names resolve from ``BUILTIN_TYPES`` plus the namespace handed in (a notebook's
``user_ns``). Parsing has two stages so that repeated parses are cheap without ever serving a stale type:

1. syntax (text → field names, annotation ASTs, defaults, descriptions), cached by text in an LRU;
2. resolution of the type names, cached on the syntax entry only when every name came from the built-ins
   and the caller's namespace defines none of them — a namespace type is always looked up afresh.

Every failure is a ``SignatureError`` with the line, the column and a caret line.
"""

from __future__ import annotations

import ast
import cmath
import copy
import datetime
import decimal
import functools
import re
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_lab.errors import SignatureError, did_you_mean
from kaizen_lab.signatures._text import PREFIX, SUFFIX, Piece, char_col, diagnose, error, scan
from kaizen_lab.signatures.fields import MISSING, Confidence, FieldSpec

__all__ = ["BUILTIN_TYPES", "ParsedSignature", "clean_instructions", "is_type_like", "parse_signature_text"]

BUILTIN_TYPES: dict[str, Any] = {
    "str": str, "int": int, "float": float, "bool": bool, "bytes": bytes,
    "list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
    "List": list, "Dict": dict, "Tuple": tuple, "Set": set, "FrozenSet": frozenset,
    "Any": Any, "Optional": typing.Optional, "Union": typing.Union, "Literal": typing.Literal,
    "None": type(None), "datetime": datetime.datetime, "date": datetime.date, "time": datetime.time,
    "timedelta": datetime.timedelta, "Decimal": decimal.Decimal, "UUID": uuid.UUID,
    "Confidence": Confidence,
}
_SPECIAL = (typing.Optional, typing.Union, typing.Literal)
_NONE = type(None)
_CACHE_SIZE = 1024
_NAMESPACE_ENTRIES = 8


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    inputs: tuple[FieldSpec, ...]
    outputs: tuple[FieldSpec, ...]
    instructions: str


@dataclass(frozen=True, slots=True)
class _RawField:
    """A field before its type is resolved."""

    name: str
    role: str
    type_node: ast.expr | None
    type_text: str
    default: Any
    default_node: ast.expr | None
    description: str
    piece: Piece
    col: int  # column of the name in piece.line_text


class _Syntax:
    """The cached result of stage 1, plus the stage-2 result when it depends on built-in names only."""

    __slots__ = ("fields", "instructions", "names", "resolved", "by_namespace", "mutable_defaults", "text")

    def __init__(self, text: str, fields: tuple[_RawField, ...], instructions: str) -> None:
        self.text = text
        self.fields = fields
        self.instructions = instructions
        names: set[str] = set()
        for f in fields:
            if f.type_node is not None:
                _collect_names(f.type_node, names)
        self.names = frozenset(names)
        self.resolved: ParsedSignature | None = None
        # (name, id) of the namespace objects used → (those objects, result); the objects are held so an
        # id cannot be reused by another object while its entry exists
        self.by_namespace: dict[tuple[tuple[str, int], ...], tuple[tuple[Any, ...], ParsedSignature]] = {}
        self.mutable_defaults = any(isinstance(f.default, (list, dict, set)) for f in fields)


def _collect_names(node: ast.AST, out: set[str]) -> None:
    if isinstance(node, ast.Name):
        out.add(node.id)
    elif isinstance(node, ast.Subscript):
        _collect_names(node.value, out)
        _collect_names(node.slice, out)
    elif isinstance(node, ast.BinOp):
        _collect_names(node.left, out)
        _collect_names(node.right, out)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for item in node.elts:
            _collect_names(item, out)
    elif isinstance(node, ast.Attribute):
        _collect_names(node.value, out)
    elif not isinstance(node, ast.Constant):
        out.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def parse_signature_text(text: str, namespace: Mapping[str, Any] | None = None) -> ParsedSignature:
    """Parse either form of a signature; types resolve from ``namespace`` first, then ``BUILTIN_TYPES``.

    Raises:
        SignatureError: the only exception this function raises; it points at the line and column.
    """
    if not isinstance(text, str):
        raise SignatureError(f"a signature must be a string, got {type(text).__name__}; "
                             "e.g. 'question: str -> answer: str'")
    try:
        syntax = _syntax(text)
        if not namespace or syntax.names.isdisjoint(namespace):
            parsed = syntax.resolved or _resolve_all(syntax, namespace or {})
        else:
            parsed = _resolve_with_namespace(syntax, namespace)
        if syntax.mutable_defaults:  # a cached list default must not be shared between signatures
            parsed = ParsedSignature(tuple(_copy_default(f) for f in parsed.inputs),
                                     tuple(_copy_default(f) for f in parsed.outputs), parsed.instructions)
        return parsed
    except SignatureError:
        raise
    except Exception as exc:  # pathological input (deep nesting, odd code points): still one error type
        raise SignatureError(f"could not parse the signature ({type(exc).__name__}: {exc})") from None


def clean_instructions(text: str) -> str:
    """Normalise instructions like a docstring: outer blank lines and the continuation lines' common
    indentation go (tabs are kept as they are, unlike ``inspect.cleandoc``)."""
    if not text:
        return ""
    lines = text.split("\n")
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    if not lines:
        return ""
    rest = lines[1:]
    indents = [len(line) - len(line.lstrip(" \t")) for line in rest if line.strip(" \t")]
    cut = min(indents) if indents else 0
    lines = [lines[0].lstrip(" \t"), *(line[cut:] for line in rest)]
    lines[-1] = lines[-1].rstrip(" \t")
    return "\n".join(lines)


def _resolve_with_namespace(syntax: _Syntax, namespace: Mapping[str, Any]) -> ParsedSignature:
    """Resolve against ``namespace``, memoised by the identity of the namespace objects the names refer to."""
    used = tuple(sorted(n for n in syntax.names if n in namespace))
    objects = tuple(namespace[n] for n in used)
    key = tuple(zip(used, map(id, objects), strict=True))
    hit = syntax.by_namespace.get(key)
    if hit is not None:
        return hit[1]
    parsed = _resolve_all(syntax, namespace)
    if len(syntax.by_namespace) >= _NAMESPACE_ENTRIES:
        syntax.by_namespace.clear()
    syntax.by_namespace[key] = (objects, parsed)
    return parsed


def is_type_like(value: Any) -> bool:
    """True for classes, parameterised generics (``list[int]``, ``Literal['a']``), unions and ``Any``."""
    return (isinstance(value, type) or value is Any or typing.get_origin(value) is not None)


def _copy_default(f: FieldSpec) -> FieldSpec:
    if not isinstance(f.default, (list, dict, set)):
        return f
    return FieldSpec(f.name, f.annotation, f.type_text, f.description, copy.deepcopy(f.default), f.role,
                     f.constraints)


# ---------------------------------------------------------------------------------------------- stage 1


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _syntax(text: str) -> _Syntax:
    if not text.strip():
        raise SignatureError("empty signature; write e.g. 'question: str -> answer: str'", text=text, column=0)
    lines = text.splitlines()
    filled = [n for n, line in enumerate(lines) if line.strip()]
    if len(filled) > 1:
        fields, instructions = _syntax_multiline(text)
    else:
        fields, instructions = _syntax_oneline(lines[filled[0]], filled[0] + 1, text), ""
    _check_names(fields, text)
    return _Syntax(text, fields, instructions)


def _syntax_oneline(line: str, lineno: int, text: str) -> tuple[_RawField, ...]:
    arrows, hash_col, problem = scan(line)
    if problem is not None:
        raise error(problem[1], Piece(line, lineno, 0, line), problem[0], text)
    if hash_col is not None:
        raise error("'# description' comments need the multi-line form (one field per line)",
                     Piece(line, lineno, 0, line), hash_col, text)
    piece_all = Piece(line, lineno, 0, line)
    if not arrows:
        raise error("missing '->' between the inputs and the outputs (e.g. 'question -> answer')",
                     piece_all, len(line.rstrip()), text)
    if len(arrows) > 1:
        raise error("more than one '->' in the signature", piece_all, arrows[1], text)
    at = arrows[0]
    left, right = Piece(line[:at], lineno, 0, line), Piece(line[at + 2:], lineno, at + 2, line)
    if not left.text.strip():
        raise error("no input fields before '->'", piece_all, at, text)
    if not right.text.strip():
        raise error("no output fields after '->'", piece_all, at, text)
    return _syntax_sides([(left, "input"), (right, "output")], text)


def _syntax_multiline(text: str) -> tuple[tuple[_RawField, ...], str]:
    lines = text.splitlines()
    index, instructions = _docstring(text, lines)
    body = [(n, lines[n]) for n in range(index, len(lines))]
    code_lines = [(n, raw) for n, raw in body if _code(raw).strip()]
    if len(code_lines) == 1 and _code(code_lines[0][1]).strip() != "->":
        number, raw = code_lines[0]  # a docstring over a one-line signature
        return _syntax_oneline(raw, number + 1, text), instructions
    pieces: list[tuple[Piece, str]] = []
    role, arrow_line, arrow_col = "input", 0, 0
    for number, raw in body:
        code = _code(raw)
        comment = raw[len(code) + 1:].strip() if len(code) < len(raw) else ""
        stripped = code.strip()
        if not stripped:
            continue
        piece_line = Piece(raw, number + 1, 0, raw)
        if stripped == "->":
            if arrow_line:
                raise error("more than one '->' line", piece_line, raw.index("->"), text)
            arrow_line, arrow_col, role = number + 1, raw.index("->"), "output"
            continue
        arrows, _, problem = scan(code)
        if problem is not None:
            raise error(problem[1], piece_line, problem[0], text)
        if len(arrows) == 1 and stripped.startswith("->"):
            # the natural "-> answer: str, confidence: float" line: the arrow, then the outputs
            if arrow_line:
                raise error("more than one '->' line", piece_line, arrows[0], text)
            arrow_line, arrow_col, role = number + 1, arrows[0], "output"
            side = code[arrows[0] + 2:].rstrip()
            if side.endswith(","):
                side = side[:-1]
            pieces.append((Piece(side, number + 1, arrows[0] + 2, raw, comment), role))
            continue
        if arrows:
            raise error("in the multi-line form put '->' on a line of its own", piece_line, arrows[0], text)
        side = code.rstrip()
        if side.endswith(","):
            side = side[:-1]
        pieces.append((Piece(side, number + 1, 0, raw, comment), role))
    if not arrow_line:
        last = len(lines)
        raise error("missing a line holding only '->' between the inputs and the outputs",
                     Piece(lines[-1], last, 0, lines[-1]), len(lines[-1].rstrip()), text)
    arrow_piece = Piece(lines[arrow_line - 1], arrow_line, 0, lines[arrow_line - 1])
    if not any(r == "input" for _, r in pieces):
        raise error("no input fields before '->'", arrow_piece, arrow_col, text)
    if not any(r == "output" for _, r in pieces):
        raise error("no output fields after '->'", arrow_piece, arrow_col, text)
    return _syntax_sides(pieces, text), instructions


def _code(line: str) -> str:
    """The line without its ``# comment``."""
    hash_col = scan(line)[1]
    return line if hash_col is None else line[:hash_col]


_OPEN_QUOTE = re.compile(r"""[ \t]*("{3}|'{3}|"|')""")


def _docstring(text: str, lines: list[str]) -> tuple[int, str]:
    """Index of the first line after the docstring, and the docstring's text (``inspect.cleandoc``-ed)."""
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines):
        return index, ""
    match = _OPEN_QUOTE.match(lines[index])
    if not match:
        return index, ""
    quote, start_col = match.group(1), match.start(1)
    rest = "\n".join(lines[index:])
    i = start_col + len(quote)
    while i < len(rest):
        if rest[i] == "\\":
            i += 2
            continue
        if rest.startswith(quote, i):
            break
        if len(quote) == 1 and rest[i] == "\n":
            i = len(rest)
            break
        i += 1
    if i >= len(rest):
        piece = Piece(lines[index], index + 1, 0, lines[index])
        raise error(f"unterminated docstring; close it with {quote}", piece, start_col, text)
    end = i + len(quote)
    literal = rest[start_col:end]
    end_line = index + rest.count("\n", 0, end)
    after = rest[end:].split("\n", 1)[0]
    if _code(after).strip():
        line_text = lines[end_line]
        col = len(line_text) - len(after) + (len(after) - len(after.lstrip()))
        raise error("unexpected text after the docstring; start the fields on the next line",
                     Piece(line_text, end_line + 1, 0, line_text), col, text)
    try:
        value = ast.literal_eval(literal)
    except (SyntaxError, ValueError):
        piece = Piece(lines[index], index + 1, 0, lines[index])
        raise error("the docstring is not a valid string literal", piece, start_col, text) from None
    return end_line + 1, clean_instructions(value)


def _syntax_sides(pieces: list[tuple[Piece, str]], text: str) -> tuple[_RawField, ...]:
    """Parse every piece as ``def f(*, <piece>): pass``, one line each, with ONE ``ast.parse`` call."""
    sources = [f"{PREFIX}{piece.text}{SUFFIX}" for piece, _ in pieces]
    try:
        tree = ast.parse("\n".join(sources))
    except SyntaxError:
        tree = None
    if tree is None or len(tree.body) != len(pieces):
        for piece, _ in pieces:  # find the piece at fault and say what is wrong with it
            try:
                ast.parse(f"{PREFIX}{piece.text}{SUFFIX}")
            except SyntaxError as exc:
                raise diagnose(piece, text, exc) from None
        raise error("invalid field list", pieces[0][0], pieces[0][0].col, text)
    fields: list[_RawField] = []
    for (piece, role), source, fn in zip(pieces, sources, tree.body, strict=True):
        fields.extend(_fields_of(fn, piece, role, source, text))
    return tuple(fields)


def _fields_of(fn: ast.stmt, piece: Piece, role: str, source: str, text: str) -> list[_RawField]:
    side = piece.text
    if (not isinstance(fn, ast.FunctionDef) or fn.returns is not None or fn.decorator_list
            or len(fn.body) != 1 or not isinstance(fn.body[0], ast.Pass)):
        raise error("invalid field list", piece, piece.col, text)
    args = fn.args
    if args.vararg or args.kwarg or args.args or args.posonlyargs:
        star = min((i for i in (side.find("*"), side.find("/")) if i >= 0), default=0)
        raise error("'*', '**' and '/' are not allowed in a signature", piece, piece.col + star, text)
    fields = []
    for arg, default_node in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        col = piece.col + char_col(source, arg.col_offset)
        if arg.arg.startswith("_"):
            raise error(f"field names cannot start with '_' ({arg.arg!r})", piece, col, text)
        default: Any = MISSING
        if default_node is not None:
            try:
                default = ast.literal_eval(default_node)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise error("a default must be a literal (a number, string, list, dict, tuple, True, False "
                             "or None)", piece, piece.col + char_col(source, default_node.col_offset),
                             text) from None
            if not _finite(default):
                written = ast.get_source_segment(source, default_node) or repr(default)
                raise error(f"default {written} is not finite (it would read back as {default!r}); "
                            "use a finite value", piece, piece.col + char_col(source, default_node.col_offset),
                            text)
        type_node = arg.annotation
        if type_node is None:
            type_text = "str"
        elif isinstance(type_node, ast.Name):  # the common case; unparse is comparatively slow
            type_text = type_node.id
        else:
            type_text = ast.unparse(type_node)
        fields.append(_RawField(arg.arg, role, type_node, type_text, default, default_node, piece.comment,
                                piece, col))
    return fields


def _finite(value: Any) -> bool:
    """No inf/nan anywhere in a literal default (they print back as names that do not parse)."""
    if isinstance(value, float | complex):
        return cmath.isfinite(value)
    if isinstance(value, list | tuple | set | frozenset):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(k) and _finite(v) for k, v in value.items())
    return True


def _check_names(fields: tuple[_RawField, ...], text: str) -> None:
    inputs: dict[str, _RawField] = {}
    outputs: dict[str, _RawField] = {}
    for f in fields:
        own = inputs if f.role == "input" else outputs
        if f.name in own:
            raise error(f"duplicate field {f.name!r}", f.piece, f.col, text)
        if f.role == "output" and f.name in inputs:
            raise error(f"{f.name!r} is both an input and an output; rename one of them", f.piece, f.col, text)
        own[f.name] = f


# ---------------------------------------------------------------------------------------------- stage 2


def _resolve_all(syntax: _Syntax, ns: Mapping[str, Any]) -> ParsedSignature:
    used_ns = [False]
    inputs: list[FieldSpec] = []
    outputs: list[FieldSpec] = []
    for raw in syntax.fields:
        if raw.type_node is None:
            annotation: Any = str
        else:
            annotation = _Resolver(ns, raw, syntax.text, used_ns).type_of(raw.type_node)
        if raw.default is not MISSING:
            _check_default(raw, annotation, syntax.text)
        spec = FieldSpec(raw.name, annotation, raw.type_text, raw.description, raw.default, raw.role)  # type: ignore[arg-type]
        (inputs if raw.role == "input" else outputs).append(spec)
    parsed = ParsedSignature(tuple(inputs), tuple(outputs), syntax.instructions)
    if not used_ns[0]:
        syntax.resolved = parsed
    return parsed


class _Resolver:
    def __init__(self, ns: Mapping[str, Any], raw: _RawField, text: str, used_ns: list[bool]) -> None:
        self.ns, self.raw, self.text, self.used_ns = ns, raw, text, used_ns
        self.source = f"{PREFIX}{raw.piece.text}{SUFFIX}"

    def fail(self, reason: str, node: ast.AST) -> SignatureError:
        col = self.raw.piece.col + char_col(self.source, getattr(node, "col_offset", 0))
        return error(reason, self.raw.piece, col, self.text)

    def lookup(self, name: str, node: ast.AST) -> Any:
        if name in self.ns:
            value = self.ns[name]
            if is_type_like(value) or value in _SPECIAL or name not in BUILTIN_TYPES:
                self.used_ns[0] = True
                return value
        if name in BUILTIN_TYPES:
            return BUILTIN_TYPES[name]
        known = [*BUILTIN_TYPES, *(k for k, v in self.ns.items() if isinstance(k, str) and is_type_like(v))]
        hint = did_you_mean(name, known)
        raise self.fail(f"unknown type {name!r}{hint}" if hint else
                        f"unknown type {name!r}; define it in the notebook or pass it in namespace=", node)

    def type_of(self, node: ast.expr) -> Any:
        value = self.walk(node)
        if value in _SPECIAL:
            raise self.fail(_needs_params(value), node)
        if not is_type_like(value):
            raise self.fail(f"{ast.unparse(node)!r} is not a type (it is a {type(value).__name__})", node)
        return value

    def walk(self, n: ast.expr) -> Any:
        if isinstance(n, ast.Name):
            return self.lookup(n.id, n)
        if isinstance(n, ast.Constant):
            if n.value is None:
                return _NONE
            if isinstance(n.value, str):
                raise self.fail("quoted types are not supported; write the type without quotes", n)
            raise self.fail(f"not a type: {ast.unparse(n)!r}", n)
        if isinstance(n, ast.Attribute):
            if n.attr.startswith("_"):
                raise self.fail(f"{ast.unparse(n)!r} is not a type; private and dunder attributes cannot be "
                                "field types", n)
            base = self.walk(n.value)
            try:
                value = getattr(base, n.attr)
            except Exception:
                raise self.fail(f"{ast.unparse(n.value)!r} has no attribute {n.attr!r}", n) from None
            return value
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            return typing.Union[self.type_of(n.left), self.type_of(n.right)]  # noqa: UP007 - built at run time
        if isinstance(n, ast.Subscript):
            return self.subscript(n)
        raise self.fail(f"not a type: {ast.unparse(n)!r}", n)

    def subscript(self, n: ast.Subscript) -> Any:
        origin = self.walk(n.value)
        items = list(n.slice.elts) if isinstance(n.slice, ast.Tuple) else [n.slice]
        if origin is typing.Literal:
            values = []
            for item in items:
                try:
                    value = ast.literal_eval(item)
                except (ValueError, TypeError, SyntaxError):
                    value = MISSING
                if not isinstance(value, (str, int, bool, bytes)) and value is not None:
                    raise self.fail("Literal[...] takes constants such as 'a', 1, True or None", item)
                values.append(value)
            return typing.Literal[tuple(values)]
        if origin is tuple:
            if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
                return tuple[self.type_of(items[0]), ...]  # type: ignore[misc]
            return tuple[tuple(self.type_of(i) for i in items)]  # type: ignore[misc]
        args = [self.type_of(i) for i in items]
        name = ast.unparse(n.value)
        if origin is typing.Optional:
            if len(args) != 1:
                raise self.fail("Optional[...] takes exactly one type, e.g. Optional[int]", n)
            return typing.Optional[args[0]]  # noqa: UP045 - built at run time
        if origin is typing.Union:
            return typing.Union[tuple(args)]  # noqa: UP007
        if origin in (list, set, frozenset) and len(args) != 1:
            raise self.fail(f"{name}[...] takes exactly one type, e.g. {name}[str]", n)
        if origin is dict and len(args) != 2:
            raise self.fail(f"{name}[...] takes a key and a value type, e.g. {name}[str, int]", n)
        try:
            return origin[tuple(args)] if len(args) > 1 else origin[args[0]]
        except Exception:
            raise self.fail(f"{name!r} does not take type parameters", n) from None


def _needs_params(value: Any) -> str:
    if value is typing.Literal:
        return "Literal needs values, e.g. Literal['yes', 'no']"
    if value is typing.Optional:
        return "Optional needs a type, e.g. Optional[int]"
    return "Union needs types, e.g. Union[int, str]"


def _check_default(raw: _RawField, annotation: Any, text: str) -> None:
    """Catch the obvious mismatches (``k: int = 'x'``, ``name: str = None``) where they are written."""
    default = raw.default
    node = raw.default_node
    assert node is not None
    col = raw.piece.col + char_col(f"{PREFIX}{raw.piece.text}{SUFFIX}", node.col_offset)
    if default is None:
        if annotation is Any or annotation is _NONE or _NONE in typing.get_args(annotation):
            return
        raise error(f"default None needs an optional type (e.g. '{raw.name}: {raw.type_text} | None = None')",
                     raw.piece, col, text)
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Literal and default not in typing.get_args(annotation):
        raise error(f"default {default!r} is not one of {raw.type_text}", raw.piece, col, text)
    expected = {float: (int, float), int: (int,), str: (str,), bool: (bool,), list: (list,),
                dict: (dict,), tuple: (tuple,), set: (set,), bytes: (bytes,)}.get(origin)
    if expected is not None and not isinstance(default, expected):
        raise error(f"default {default!r} does not match the type {raw.type_text}", raw.piece, col, text)
