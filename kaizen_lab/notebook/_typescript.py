"""TypeScript declarations from Python types: TypedDicts become interfaces, other types become type aliases.

A safe emitter: names must be plain identifiers (anything else is refused, never quoted into the output),
string literals are written by ``json.dumps`` (ASCII only, so no line separator ends a line early), and
docstrings become comments that cannot close themselves. Only the types the comm protocol needs are supported
(str, int, float, bool, None, Literal, list, unions and the TypedDicts being declared); anything else raises.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping

import typing_extensions

__all__ = ["emit"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCALARS: dict[object, str] = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _name(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"not a TypeScript identifier: {name!r}")
    return name


def _comment(doc: str | None, indent: str = "") -> list[str]:
    """A ``/** */`` comment of printable ASCII (other characters as ``\\uXXXX``; ``*/`` cannot occur)."""
    if not doc:
        return []
    text = " ".join(doc.split())
    text = "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in text).replace("*/", "*\\/")
    return [f"{indent}/** {text} */"]


def _type(tp: object, declared: Mapping[object, str]) -> str:
    if tp in declared:
        return declared[tp]
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin = typing_extensions.get_origin(tp)
    args = typing_extensions.get_args(tp)
    if origin is typing.Literal:
        for value in args:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise TypeError(f"unsupported literal {value!r}: strings and integers only")
        return " | ".join(json.dumps(value) for value in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type(arg, declared) for arg in args)
    if origin is list and len(args) == 1:
        item = _type(args[0], declared)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if typing_extensions.is_typeddict(tp):
        raise TypeError(f"{getattr(tp, '__name__', tp)!r} is used before it is declared")
    raise TypeError(f"no TypeScript form for {tp!r}")


def _interface(name: str, td: type, declared: Mapping[object, str]) -> list[str]:
    hints = typing_extensions.get_type_hints(td)
    required = getattr(td, "__required_keys__", frozenset(hints))
    lines = [*_comment(td.__doc__), f"export interface {name} {{"]
    for field, tp in hints.items():
        optional = "" if field in required else "?"
        lines.append(f"  {_name(field)}{optional}: {_type(tp, declared)};")
    lines.append("}")
    return lines


def emit(declarations: Mapping[str, object], *, source: str, command: str) -> str:
    """The TypeScript module declaring ``declarations`` (exported name → Python type), in their order.

    ``source`` and ``command`` name the Python module and the command that regenerate the file.
    """
    for text in (source, command):
        if not all(" " <= c <= "~" for c in text):
            raise ValueError(f"not a one-line ASCII text: {text!r}")
    out = [f"// Generated from {source} by `{command}`.", "// Do not edit: change the Python types and regenerate.",
           ""]
    declared: dict[object, str] = {}
    for name, tp in declarations.items():
        name = _name(name)
        if typing_extensions.is_typeddict(tp):
            assert isinstance(tp, type)
            out += _interface(name, tp, declared)
        else:
            out.append(f"export type {name} = {_type(tp, declared)};")
        declared[tp] = name
        out.append("")
    return "\n".join(out[:-1]) + "\n"
