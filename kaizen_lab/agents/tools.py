"""Tools: plain Python functions (schema from annotations and docstring) and, through ``kaizen_lab.mcp``, MCP tools.

A ``Tool`` is a name, a description, a JSON Schema for its arguments and an async ``call(arguments)``.
Arguments are validated with pydantic before the function runs, so a model's bad arguments come back to it as
an error message it can correct.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.messages import ImagePart, ToolSpec

__all__ = ["Tool", "ToolSet", "tool", "tool_from_function", "tool_output"]

_ARG_LINE = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


@dataclass(frozen=True)
class Tool:
    """A callable offered to a model."""

    name: str
    description: str
    parameters: dict[str, Any]
    call: Callable[[dict[str, Any]], Awaitable[Any]]
    source: str = "python"
    fn: Any = field(default=None, compare=False, repr=False)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    async def __call__(self, **arguments: Any) -> Any:
        return await self.call(arguments)


def _doc_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            m = _ARG_LINE.match(line)
            if m:
                params[m.group(1)] = m.group(2).strip()
            elif line.strip() and not line.startswith(" "):
                in_args = False
    return summary, params


def tool_from_function(fn: Callable[..., Any], *, name: str | None = None,
                       description: str | None = None) -> Tool:
    """Build a ``Tool`` from a function: JSON Schema from annotations, descriptions from the docstring."""
    import pydantic

    if isinstance(fn, Tool):
        return fn
    if not callable(fn):
        raise UserError(f"a tool must be a function, got {type(fn).__name__}")
    tool_name = name or getattr(fn, "__name__", None)
    if not tool_name or tool_name == "<lambda>":
        raise UserError("a lambda has no name to offer to the model; define it with def, or pass name=")
    summary, arg_docs = _doc_parts(fn)
    sig = inspect.signature(fn)
    try:
        hints = __import__("typing").get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolved forward refs fall back to raw annotations
        hints = {}
    definitions: dict[str, Any] = {}
    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, param.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if param.default is inspect.Parameter.empty else param.default
        definitions[pname] = (annotation, pydantic.Field(default, description=arg_docs.get(pname)))
    args_model = pydantic.create_model(f"{tool_name}_args", **definitions)
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    is_async = inspect.iscoroutinefunction(fn)

    async def call(arguments: dict[str, Any]) -> Any:
        unknown = set(arguments) - set(definitions)
        if unknown:
            bad = sorted(unknown)[0]
            raise UserError(f"tool {tool_name!r} got unknown argument {bad!r}{did_you_mean(bad, definitions)}")
        validated = args_model.model_validate(arguments)
        kwargs = {k: getattr(validated, k) for k in definitions}
        result = fn(**kwargs)
        if is_async or inspect.isawaitable(result):
            result = await result
        return result

    return Tool(tool_name, description or summary or tool_name, schema, call, "python", fn)


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None) -> Any:
    """Decorator form of ``tool_from_function``: ``@tool`` or ``@tool(name=...)``."""
    if fn is None:
        return lambda f: tool_from_function(f, name=name, description=description)
    return tool_from_function(fn, name=name, description=description)


def result_text(value: Any) -> str:
    """A tool result as the text sent back to the model (the same rendering as prompt values)."""
    from kaizen_lab.signatures.adapters import value_text

    return value_text(value)


def tool_output(value: Any) -> tuple[str, tuple[ImagePart, ...], tuple[dict[str, Any], ...]]:
    """What a tool's return value gives the model and the trace: ``(text, images, content summary)``.

    An ``ImagePart`` (or a list of them) is an image; typed MCP results give their images whole and the other
    items as text (``model_input``); anything else is rendered as text. The summary lists items by type and
    size, never the payload."""
    if isinstance(value, ImagePart) or (isinstance(value, list | tuple) and value
                                         and all(isinstance(v, ImagePart) for v in value)):
        images = (value,) if isinstance(value, ImagePart) else tuple(value)
        return "", images, tuple({"type": "image", "mime_type": i.mime_type, "size": i.size} for i in images)
    as_input = getattr(value, "model_input", None)
    summary = getattr(value, "content_summary", None)
    content = summary() if callable(summary) else ()
    if callable(as_input):
        text, images = as_input()
        return text, tuple(images), content
    return result_text(value), (), content


class ToolSet:
    """The tools an agent offers, by name."""

    def __init__(self, tools: Iterable[Any] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, item: Any) -> Tool:
        t = item if isinstance(item, Tool) else tool_from_function(item)
        self._tools[t.name] = t
        return t

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self._tools.values())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
