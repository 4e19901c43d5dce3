"""Keyless models for tests and notebooks (public API, as in pydantic-ai).

- ``TestModel``: deterministic; answers with JSON generated from the requested output schema, and on the first
  turn calls every offered tool once with schema-valid arguments.
- ``FunctionModel(fn)``: ``fn(messages, info)`` (sync or async) returns text or a ``ModelResponse``.
- ``ScriptedModel([...])``: plays back responses (text, ``ModelResponse`` or an exception to raise) in order.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kaizen_lab.errors import UserError
from kaizen_lab.messages import Message, ToolCall, ToolSpec
from kaizen_lab.models.base import ModelBase, ModelResponse, ModelSettings, RequestInfo, Usage

__all__ = ["FunctionModel", "ScriptedModel", "TestModel", "example_from_schema", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """A provider-free token estimate (about four characters a token) used by the test models."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _usage(messages: Sequence[Message], text: str) -> Usage:
    return Usage(sum(estimate_tokens(m.text_with_placeholders()) for m in messages), estimate_tokens(text))


def example_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None, name: str = "") -> Any:
    """A deterministic value that validates against ``schema`` (the subset pydantic emits)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_from_schema(options[0], defs, name)
    if "allOf" in schema:
        return example_from_schema(schema["allOf"][0], defs, name)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        if not props and isinstance(schema.get("additionalProperties"), dict):
            return {"key": example_from_schema(schema["additionalProperties"], defs, "key")}
        return {k: example_from_schema(v, defs, k) for k, v in props.items()}
    if kind == "array":
        if "prefixItems" in schema:
            return [example_from_schema(s, defs, name) for s in schema["prefixItems"]]
        n = max(1, schema.get("minItems", 1))
        return [example_from_schema(schema.get("items", {}), defs, name) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1) if
                   ("minimum" in schema or "exclusiveMinimum" in schema) else 1)
    if kind == "number":
        lo, hi = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return float(lo + hi) / 2 if hi >= lo else float(lo)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-01-01T00:00:00"
    if fmt == "date":
        return "2026-01-01"
    min_len = schema.get("minLength", 0)
    text = f"test {name}".strip() if name else "test"
    return text.ljust(min_len, "x")


class TestModel(ModelBase):
    """Deterministic, schema-valid answers; calls every offered tool once on the first turn.

    Args:
        custom_output: a fixed answer (dict for structured output, or text) instead of the generated one.
        call_tools: ``"all"`` (default), a list of tool names, or ``[]`` for none.
        latency: seconds to sleep per request (to make timeouts and concurrency observable).
    """

    __test__ = False  # not a pytest class
    provider = "test"

    def __init__(self, *, custom_output: Any = None, call_tools: str | Iterable[str] = "all",
                 latency: float = 0.0, name: str = "test") -> None:
        self.name = name
        self.custom_output = custom_output
        self.call_tools = call_tools if isinstance(call_tools, str) else tuple(call_tools)
        self.latency = latency
        self.calls = 0
        self.supports_structured_output = True

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        self.calls += 1
        if self.latency:
            import asyncio

            await asyncio.sleep(self.latency)
        if tools and not any(m.role == "tool" for m in messages):
            chosen = [t for t in tools if self.call_tools == "all" or t.name in self.call_tools]
            if chosen:
                calls = tuple(ToolCall(f"call_{i}", t.name, example_from_schema(t.parameters))
                              for i, t in enumerate(chosen))
                return ModelResponse(tool_calls=calls, usage=_usage(messages, ""), model_name=self.name,
                                     finish_reason="tool_calls")
        if self.custom_output is not None:
            out = self.custom_output
            text = out if isinstance(out, str) else json.dumps(out)
        elif output_schema is not None:
            text = json.dumps(example_from_schema(output_schema))
        else:
            text = "test output"
        return ModelResponse(text=text, usage=_usage(messages, text), model_name=self.name)


class FunctionModel(ModelBase):
    """A model whose answers come from ``fn(messages, info)``; sync or async; returns str or ModelResponse.

    With ``supports_images=True`` ``fn`` receives messages' ``images``; otherwise (like a text-only model)
    each image arrives as a placeholder line in ``content``."""

    provider = "function"

    def __init__(self, fn: Callable[[list[Message], RequestInfo], Any], *, name: str | None = None,
                 supports_images: bool = False) -> None:
        self.fn = fn
        self.name = name or str(getattr(fn, "__name__", "function"))
        self.calls = 0
        self._lock = threading.Lock()
        self.supports_structured_output = True
        self.supports_images = supports_images

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        with self._lock:
            index = self.calls
            self.calls += 1
        info = RequestInfo(tuple(tools or ()), output_schema, settings or ModelSettings(), index)
        start = time.perf_counter()
        given = list(messages) if self.supports_images else [m.without_images() for m in messages]
        out = self.fn(given, info)
        if inspect.isawaitable(out):
            out = await out
        latency = (time.perf_counter() - start) * 1000
        if isinstance(out, ModelResponse):
            return out
        if isinstance(out, dict | list):
            out = json.dumps(out)
        if not isinstance(out, str):
            raise UserError(f"FunctionModel {self.name!r} returned {type(out).__name__}; "
                            "return a str, a dict (sent as JSON) or a ModelResponse")
        return ModelResponse(text=out, usage=_usage(messages, out), model_name=self.name, latency_ms=latency)


class ScriptedModel(ModelBase):
    """Plays back ``responses`` in order: str, dict (as JSON), ``ModelResponse``, or an exception to raise."""

    provider = "scripted"

    def __init__(self, responses: Iterable[Any], *, name: str = "scripted") -> None:
        self.responses = list(responses)
        self.name = name
        self.calls = 0
        self.supports_structured_output = True

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        if self.calls >= len(self.responses):
            raise UserError(f"ScriptedModel {self.name!r} ran out of responses after {len(self.responses)} "
                            "calls; add more responses to its script")
        item = self.responses[self.calls]
        self.calls += 1
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ModelResponse):
            return item
        text = item if isinstance(item, str) else json.dumps(item)
        return ModelResponse(text=text, usage=_usage(messages, text), model_name=self.name)
