"""Source-text helpers of the grammar: pieces of lines, bracket/quote scanning, caret errors, and naming what
is wrong with a field list Python could not parse (in our own words, independent of CPython's messages)."""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kaizen_lab.errors import SignatureError

__all__ = ["PREFIX", "SUFFIX", "Piece", "char_col", "diagnose", "error", "scan"]

PREFIX = "def f(*, "
SUFFIX = "): pass"


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of one source line: its text and where it starts (1-based line, 0-based column)."""

    text: str
    line: int
    col: int
    line_text: str
    comment: str = ""


def error(reason: str, piece: Piece | None, col: int | None, text: str) -> SignatureError:
    if piece is None:
        return SignatureError(reason, text=text, column=col)
    return SignatureError(reason, text=text, line=piece.line, column=col, line_text=piece.line_text)


_INTERESTING = re.compile(r"->|[\[\](){}'\"#]")


def scan(line: str) -> tuple[list[int], int | None, tuple[int, str] | None]:
    """Top-level ``->`` columns (outside brackets and strings), the ``#`` column, and a bracket/quote problem."""
    stack: list[int] = []
    arrows: list[int] = []
    search = _INTERESTING.search
    match = search(line)
    while match is not None:
        i = match.start()
        token = match.group()
        if token == "->":
            if not stack:
                arrows.append(i)
        elif token in "'\"":
            j = i + 1  # skip the string literal, honouring backslash escapes
            while True:
                j = _next_quote_or_escape(line, j, token)
                if j < 0:
                    return arrows, None, (i, "unterminated string")
                if line[j] == "\\":
                    j += 2
                    continue
                break
            match = search(line, j + 1)
            continue
        elif token == "#":
            return arrows, i, _unclosed(line, stack)
        elif token in "([{":
            stack.append(i)
        elif not stack or _PAIRS[line[stack[-1]]] != token:
            return arrows, None, (i, f"unmatched {token!r}")
        else:
            stack.pop()
        match = search(line, match.end())
    return arrows, None, _unclosed(line, stack)


def _next_quote_or_escape(line: str, start: int, quote: str) -> int:
    q, b = line.find(quote, start), line.find("\\", start)
    if q < 0:
        return -1
    return b if 0 <= b < q else q


def _unclosed(line: str, stack: list[int]) -> tuple[int, str] | None:
    return (stack[-1], f"{line[stack[-1]]!r} is never closed") if stack else None


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def char_col(source: str, byte_offset: int) -> int:
    """``ast`` columns count UTF-8 bytes; carets count characters. Relative to the side's first character."""
    if source.isascii():
        return byte_offset - len(PREFIX)
    return len(source.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")) - len(PREFIX)


def _top_level(text: str) -> Iterator[tuple[int, str]]:
    """Each character outside brackets and string literals, with its column (escapes inside strings skipped)."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            yield i, ch
        i += 1


def _split_top(side: str) -> list[tuple[int, str]]:
    """The comma-separated segments of a side (outside brackets and strings), each with its start column."""
    out, start = [], 0
    for i, ch in _top_level(side):
        if ch == ",":
            out.append((start, side[start:i]))
            start = i + 1
    out.append((start, side[start:]))
    return out


def diagnose(piece: Piece, text: str, exc: SyntaxError) -> SignatureError:
    """Name what is wrong with a side that Python could not parse (independent of CPython's wording)."""
    side = piece.text
    segments = _split_top(side)
    for index, (start, segment) in enumerate(segments):
        stripped = segment.strip()
        lead = start + len(segment) - len(segment.lstrip())
        if not stripped:
            if index == len(segments) - 1 and index > 0:
                continue  # a trailing comma is fine
            return error("empty field (a ',' with no field before it)", piece, piece.col + start, text)
        head = re.match(r"[^\s:=]*", stripped).group(0)  # type: ignore[union-attr]
        if not head:
            return error("expected a field name", piece, piece.col + lead, text)
        if head[0] in "*/":
            return error("'*', '**' and '/' are not allowed in a signature", piece, piece.col + lead, text)
        if keyword.iskeyword(head):
            return error(f"{head!r} is a Python keyword and cannot be a field name", piece, piece.col + lead,
                          text)
        if not head.isidentifier():
            name = re.match(r"\w*", head).group(0)  # type: ignore[union-attr]
            if name and name.isidentifier():
                bad = lead + len(name)
                if keyword.iskeyword(name):
                    return error(f"{name!r} is a Python keyword and cannot be a field name", piece,
                                  piece.col + lead, text)
                return error(f"expected ':', '=' or ',' after the field name {name!r}", piece,
                              piece.col + bad, text)
            return error(f"{head!r} is not a valid field name (use letters, digits and '_')", piece,
                          piece.col + lead, text)
        after = lead + len(head)
        rest = side[after:start + len(segment)]
        pos = after + len(rest) - len(rest.lstrip())
        rest = rest.strip()
        if not rest:
            continue
        if rest[0] not in ":=":
            return error(f"expected ':', '=' or ',' after the field name {head!r}", piece, piece.col + pos, text)
        annotation, default, eq = rest, "", -1
        if rest[0] == ":":
            eq = _top_level_eq(rest)
            annotation = rest[1:eq] if eq >= 0 else rest[1:]
            if not annotation.strip():
                return error(f"missing type after ':' for field {head!r}", piece, piece.col + pos + 1, text)
            problem = _expr_problem(annotation)
            if problem is not None:
                empty = _EMPTY_SUBSCRIPT.search(annotation)
                if empty is not None:
                    col = pos + 1 + empty.start(2)
                    return error(_needs_inside(empty.group(1)), piece, piece.col + col, text)
                col = pos + 1 + len(annotation) - len(annotation.lstrip()) + problem
                return error(f"invalid type for field {head!r}", piece, piece.col + col, text)
            default_at = pos + eq if eq >= 0 else -1
        else:
            default_at = pos
        if default_at >= 0:
            default = side[default_at + 1:start + len(segment)]
            if not default.strip():
                return error(f"missing default value after '=' for field {head!r}", piece,
                              piece.col + default_at, text)
            problem = _expr_problem(default)
            if problem is not None:
                col = default_at + 1 + len(default) - len(default.lstrip()) + problem
                return error(f"invalid default value for field {head!r}", piece, piece.col + col, text)
    col = max(0, min((exc.offset or 1) - 1 - len(PREFIX), len(side)))
    return error("invalid syntax; write fields as 'name: type = default', separated by ','", piece,
                  piece.col + col, text)


_EMPTY_SUBSCRIPT = re.compile(r"([A-Za-z_][\w.]*)\s*(\[)\s*\]")
_EXAMPLES = {"Literal": "Literal needs values, e.g. Literal['yes', 'no']",
             "Optional": "Optional needs a type, e.g. Optional[int]",
             "Union": "Union needs types, e.g. Union[int, str]",
             "dict": "dict[...] needs a key and a value type, e.g. dict[str, int]",
             "tuple": "tuple[...] needs types, e.g. tuple[int, str] or tuple[int, ...]"}


def _needs_inside(name: str) -> str:
    """What an empty ``name[]`` is missing, with an example."""
    short = name.rsplit(".", 1)[-1]
    return _EXAMPLES.get(short, f"{name}[...] needs a type inside the brackets, e.g. {name}[str]")


def _top_level_eq(segment: str) -> int:
    return next((i for i, ch in _top_level(segment) if ch == "="), -1)


def _expr_problem(expr: str) -> int | None:
    """``None`` when ``expr`` parses as one expression, else the column (within the stripped text) at fault."""
    stripped = expr.strip()
    try:
        ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        return max(0, min((exc.offset or 1) - 1, len(stripped)))
    return None
