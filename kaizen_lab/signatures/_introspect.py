"""Signatures from Python functions: parameters are the inputs, the return annotation gives the outputs.

- inputs: one per parameter, defaults kept; an unannotated parameter is ``str`` (or the type of its default
  when that is a plain ``int``/``float``/``bool``/``list``/``dict``);
- outputs: a ``TypedDict``, pydantic model, ``NamedTuple`` or dataclass return type gives one output per
  field; any other return type gives ONE output named ``output`` (no return annotation: ``output: str``);
- instructions: the docstring's text before its first Google-style section;
- descriptions: the ``Args:`` section for inputs, the ``Returns:`` section for outputs (``name: text`` lines
  for several outputs, the whole section for a single one); ``Annotated[T, "text"]`` and pydantic
  ``Field(description=...)`` take precedence.

Types come from ``typing.get_type_hints`` (the function's own globals): nothing is imported or guessed.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from kaizen_lab.errors import SignatureError
from kaizen_lab.signatures.fields import MISSING, FieldSpec, type_repr

__all__ = ["OUTPUT_NAME", "parse_google_docstring", "signature_from_function"]

OUTPUT_NAME = "output"
_SECTIONS = {"args", "arguments", "parameters", "params", "returns", "return", "yields", "raises", "examples",
             "example", "note", "notes", "see also", "attributes", "warnings", "warning", "todo"}
_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_INFERRED = (int, float, bool, list, dict)


def parse_google_docstring(doc: str) -> tuple[str, dict[str, str], str, dict[str, str]]:
    """Split a Google-style docstring into (text, Args entries, Returns text, Returns ``name: text`` entries)."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    text: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        header = _HEADER.match(line)
        if header and header.group(1).strip().lower() in _SECTIONS and not line.startswith((" ", "\t")):
            current = sections.setdefault(header.group(1).strip().lower(), [])
            continue
        (text if current is None else current).append(line)
    args = _entries(sections.get("args") or sections.get("arguments") or sections.get("parameters")
                    or sections.get("params") or [])
    returns_lines = sections.get("returns") or sections.get("return") or []
    returns_text = " ".join(line.strip() for line in returns_lines if line.strip())
    return "\n".join(text).strip(), args, returns_text, _entries(returns_lines)


def _entries(lines: list[str]) -> dict[str, str]:
    """``name (type): text`` entries; deeper-indented lines continue the entry above."""
    out: dict[str, str] = {}
    body = [line for line in lines if line.strip()]
    if not body:
        return out
    base = min(len(line) - len(line.lstrip()) for line in body)
    name = None
    for line in body:
        indent = len(line) - len(line.lstrip())
        match = _ENTRY.match(line.strip()) if indent == base else None
        if match:
            name = match.group(1).lstrip("*")
            out[name] = match.group(3).strip()
        elif name is not None:
            out[name] = f"{out[name]} {line.strip()}".strip()
    return out


def _hints(obj: Any, what: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:
        raise SignatureError(f"cannot resolve the type annotations of {what} ({type(exc).__name__}: {exc}); "
                             "define the types at module level, before the function") from None


def _split_annotated(tp: Any) -> tuple[Any, str]:
    """``Annotated[T, "text", ...]`` → (T, "text"); other metadata stays on the type."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        texts = [m for m in meta if isinstance(m, str)]
        rest = [m for m in meta if not isinstance(m, str)]
        if texts:
            return (typing.Annotated[(base, *rest)] if rest else base), texts[0]
    return tp, ""


def _spec(name: str, tp: Any, description: str, default: Any, role: str) -> FieldSpec:
    tp, annotated_desc = _split_annotated(tp)
    return FieldSpec(name, tp, type_repr(tp), annotated_desc or description, default, role)  # type: ignore[arg-type]


def signature_from_function(cls: type, fn: Any) -> Any:
    """Build a ``cls`` (a ``Signature`` class) from ``fn``; see the module docstring for the rules.

    Raises:
        SignatureError: ``*args``/``**kwargs``, unresolvable annotations, or not a function.
    """
    if not callable(fn):
        raise SignatureError(f"from_function needs a function, got {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"cannot read the parameters of {fn!r} ({exc}); pass a Python function") from None
    label = getattr(fn, "__qualname__", None) or repr(fn)
    hints = _hints(fn, label)
    text, arg_docs, returns_text, return_docs = parse_google_docstring(inspect.getdoc(fn) or "")
    inputs = []
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SignatureError(f"{label}: '*{param.name}'/'**{param.name}' cannot be a signature field; "
                                 "name each input as a parameter")
        default = MISSING if param.default is param.empty else param.default
        if param.name in hints:
            tp = hints[param.name]
        elif default is not MISSING and type(default) in _INFERRED:
            tp = type(default)
        else:
            tp = str
        inputs.append(_spec(param.name, tp, arg_docs.get(param.name, ""), default, "input"))
    ret = hints.get("return", MISSING)
    outputs = _outputs(ret, returns_text, return_docs, label)
    return cls(inputs=inputs, outputs=outputs, instructions=text, name=getattr(fn, "__name__", None))


def _outputs(ret: Any, returns_text: str, docs: dict[str, str], label: str) -> list[FieldSpec]:
    base = _split_annotated(ret)[0] if ret is not MISSING else ret
    fields = _structured_fields(base) if isinstance(base, type) else None
    if fields is None:
        tp = str if ret is MISSING or ret is type(None) else ret
        return [_spec(OUTPUT_NAME, tp, returns_text, MISSING, "output")]
    if not fields:
        raise SignatureError(f"{label}: the return type {type_repr(base)} has no fields to use as outputs")
    return [_spec(name, tp, description or docs.get(name, ""), default, "output")
            for name, tp, description, default in fields]


def _structured_fields(tp: type) -> list[tuple[str, Any, str, Any]] | None:
    """(name, type, description, default) per field of a TypedDict / pydantic model / NamedTuple / dataclass."""
    if typing.is_typeddict(tp):
        hints = _hints(tp, tp.__name__)
        optional = set(getattr(tp, "__optional_keys__", frozenset()))
        out = []
        for name, hint in hints.items():
            # string annotations (``from __future__ import annotations``) leave the markers in the hints
            marker = typing.get_origin(hint)
            if marker is typing.NotRequired or marker is typing.Required:
                optional.discard(name) if marker is typing.Required else optional.add(name)
                hint = typing.get_args(hint)[0]
            is_optional = name in optional
            out.append((name, (hint | None) if is_optional else hint, "", None if is_optional else MISSING))
        return out
    model_fields = getattr(tp, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(tp, "model_validate"):  # a pydantic model
        out = []
        for name, info in model_fields.items():
            default = MISSING if info.is_required() else info.get_default(call_default_factory=True)
            out.append((info.alias or name, info.annotation, info.description or "", default))
        return out
    if issubclass(tp, tuple) and hasattr(tp, "_fields"):  # a NamedTuple
        hints = _hints(tp, tp.__name__)
        defaults = getattr(tp, "_field_defaults", {})
        return [(name, hints.get(name, Any), "", defaults.get(name, MISSING)) for name in tp._fields]
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp, tp.__name__)
        out = []
        for f in dataclasses.fields(tp):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = MISSING
            out.append((f.name, hints.get(f.name, Any), str(f.metadata.get("description", "")), default))
        return out
    return None
