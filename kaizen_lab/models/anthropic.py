"""Anthropic's Messages API on the official ``anthropic`` SDK.

System messages become the ``system`` parameter; tool results become ``tool_result`` blocks in a user turn
(consecutive ones merged, as the API requires every result of one assistant turn in the next user message).
Structured output works on every Claude model through a forced tool whose input schema is the output schema
(``structured_output="tool"``, the default); ``"native"`` uses the API's ``output_config`` JSON-schema format
on models that support it; ``"none"`` leaves the schema to the prompt.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from kaizen_lab.errors import ModelError, UserError
from kaizen_lab.messages import ImagePart, Message, ToolCall, ToolSpec
from kaizen_lab.models._hosted import HostedModel, response_body, split_images
from kaizen_lab.models._retry import RetryPolicy
from kaizen_lab.models.base import ModelResponse, ModelSettings, Usage

__all__ = ["OUTPUT_TOOL", "AnthropicModel", "to_anthropic_messages"]

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
#: the tool a model is made to call to return structured output
OUTPUT_TOOL = "final_result"
_WRAPPED = "result"

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
           "refusal": "content_filter", "pause_turn": "stop"}

StructuredMode = Literal["tool", "native", "none"]


def _image_block(image: ImagePart) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": image.mime_type, "data": image.base64()}}


def to_anthropic_messages(messages: Sequence[Message], *,
                          images: bool = True) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system, messages)`` in Messages API form. Images become ``image`` blocks with a base64 source, inside
    the ``tool_result`` of a tool message; with ``images=False`` (or for a type the API refuses) each image is a
    placeholder line instead."""
    system = [m.text_with_placeholders() for m in messages if m.role == "system" and (m.content or m.images)]
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        text, sendable = split_images(m, allowed=images)
        if m.role == "tool":
            role = "user"
            result: Any = text
            if sendable:
                result = ([{"type": "text", "text": text}] if text else []) + [_image_block(i) for i in sendable]
            blocks: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                                             "content": result}]
        elif m.role == "assistant":
            role = "assistant"
            blocks = [{"type": "text", "text": text}] if text else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                       for c in m.tool_calls]
        else:
            role = "user"
            blocks = [{"type": "text", "text": text}] if text or not sendable else []
            blocks += [_image_block(image) for image in sendable]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return ("\n\n".join(system) or None), out


def _output_tool_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A tool input schema for ``schema`` (tool inputs must be objects: others are wrapped in ``result``)."""
    if schema.get("type") == "object":
        return schema, False
    inner = {k: v for k, v in schema.items() if k != "$defs"}
    wrapped: dict[str, Any] = {"type": "object", "properties": {_WRAPPED: inner}, "required": [_WRAPPED]}
    if "$defs" in schema:
        wrapped["$defs"] = schema["$defs"]
    return wrapped, True


class AnthropicModel(HostedModel):
    """A Claude model behind Anthropic's Messages API.

    Args:
        name: the model name, e.g. ``"claude-haiku-4-5"``.
        base_url: the server (default ``ANTHROPIC_BASE_URL`` or Anthropic's).
        api_key: the key (default ``ANTHROPIC_API_KEY``).
        provider_name: shown in labels, traces and errors.
        timeout: seconds per request attempt (``ModelSettings.timeout`` overrides it per request).
        max_retries: retries on 429/5xx/529/connection errors (ignored when ``retry`` is given).
        retry: a full ``RetryPolicy``.
        settings: default ``ModelSettings`` merged under each request's.
        max_tokens: used when the settings give none (the API requires a value).
        structured_output: ``"tool"`` (forced tool, every model), ``"native"`` (``output_config`` JSON schema)
            or ``"none"``.
        prices: price overrides, ``{name: {input, output}}`` USD per 1M tokens.
        headers: extra HTTP headers sent with every request.
        supports_images: send messages' images as ``image`` blocks (off: a placeholder line per image).
    """

    sdk_name = "anthropic"
    extra = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = ANTHROPIC_BASE_URL

    def __init__(self, name: str = "claude-haiku-4-5", *, base_url: str | None = None, api_key: str | None = None,
                 provider_name: str = "anthropic", timeout: float = 60.0, max_retries: int = 3,
                 retry: RetryPolicy | None = None, settings: ModelSettings | None = None, max_tokens: int = 4096,
                 structured_output: StructuredMode = "tool", prices: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, supports_images: bool = True) -> None:
        if structured_output not in ("tool", "native", "none"):
            raise UserError(f"AnthropicModel(structured_output={structured_output!r}): use 'tool', 'native' "
                            "or 'none'")
        super().__init__(name, provider_name=provider_name, api_key=api_key, base_url=base_url, timeout=timeout,
                         max_retries=max_retries, retry=retry, settings=settings, prices=prices)
        self.max_tokens = max_tokens
        self.supports_images = supports_images
        self.structured_output = structured_output
        self.supports_structured_output = structured_output != "none"
        self.headers = dict(headers or {})

    def _make_client(self) -> Any:
        return self.sdk.AsyncAnthropic(api_key=self._api_key, base_url=self.base_url, timeout=self.timeout,
                                       max_retries=0, default_headers=self.headers or None)

    def _params(self, messages: Sequence[Message], settings: ModelSettings, tools: Sequence[ToolSpec] | None,
                output_schema: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        system, wire = to_anthropic_messages(messages, images=self.supports_images)
        params: dict[str, Any] = {"model": self.name, "messages": wire,
                                  "max_tokens": settings.max_tokens or self.max_tokens}
        if system:
            params["system"] = system
        if settings.stop:
            params["stop_sequences"] = list(settings.stop)
        # sampling settings are accepted by the API but not declared by this SDK version: send them as body
        extra = {k: v for k, v in (("temperature", settings.temperature), ("top_p", settings.top_p))
                 if v is not None}
        if extra:
            params["extra_body"] = extra
        tool_list = [{"name": t.name, "description": t.description,
                      "input_schema": t.parameters or {"type": "object", "properties": {}}} for t in tools or ()]
        wrapped = False
        if output_schema is not None and self.structured_output == "tool":
            schema, wrapped = _output_tool_schema(output_schema)
            tool_list.append({"name": OUTPUT_TOOL, "input_schema": schema,
                              "description": "Return the final answer with this tool, as its arguments."})
            # alone it is forced; next to real tools the model must call one of them (any), never plain text
            params["tool_choice"] = ({"type": "tool", "name": OUTPUT_TOOL} if len(tool_list) == 1
                                     else {"type": "any"})
        elif output_schema is not None and self.structured_output == "native":
            params["output_config"] = {"format": {"type": "json_schema", "schema": output_schema}}
        if tool_list:
            params["tools"] = tool_list
        return params, wrapped

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        """One Messages API call (retried on transient failures); see ``Model.request``."""
        merged = self.settings.merged(settings)
        timeout = self._timeout(merged)
        params, wrapped = self._params(messages, merged, tools, output_schema)
        start = time.perf_counter()

        async def call() -> Any:
            message = await self._client().messages.create(**params, timeout=timeout)
            if isinstance(message, str | bytes):
                raise ModelError(f"{self.provider} sent a non-JSON response", provider=self.provider,
                                 body=message[:2000])
            return message

        message = await self._call(call, timeout=timeout)
        return self._response(message, (time.perf_counter() - start) * 1000, wrapped)

    def _response(self, message: Any, latency_ms: float, wrapped: bool) -> ModelResponse:
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise ModelError(f"{self.provider} sent a response without a content list", provider=self.provider,
                             body=response_body(message))
        texts: list[str] = []
        calls: list[ToolCall] = []
        final: str | None = None
        for block in blocks:
            kind = getattr(block, "type", None)
            if kind == "text":
                texts.append(block.text or "")
            elif kind == "tool_use":
                args = block.input if isinstance(block.input, dict) else {}
                if block.name == OUTPUT_TOOL:
                    final = json.dumps(args.get(_WRAPPED) if wrapped else args, ensure_ascii=False)
                else:
                    calls.append(ToolCall(block.id, block.name, args))
        usage_obj = getattr(message, "usage", None)
        usage = Usage(int(getattr(usage_obj, "input_tokens", 0) or 0),
                      int(getattr(usage_obj, "output_tokens", 0) or 0))
        stop = getattr(message, "stop_reason", None) or "end_turn"
        finish = _FINISH.get(stop, stop)
        if final is not None and not calls:
            text, finish = final, "stop"  # the output tool is how the answer is returned, not a tool to run
        else:
            text = "".join(texts)
        return ModelResponse(text=text, tool_calls=tuple(calls), usage=usage,
                             model_name=getattr(message, "model", None) or self.name, latency_ms=latency_ms,
                             finish_reason=finish, cost=self._cost(usage), raw=message)

    async def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                     output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]:
        """Yield text deltas (with a structured output tool: the JSON of its arguments, piece by piece).

        Opening the stream is retried; a failure mid-stream raises ``ModelError``."""
        merged = self.settings.merged(settings)
        timeout = self._timeout(merged)
        params, wrapped = self._params(messages, merged, None, output_schema)
        if wrapped:
            # pieces of {"result": ...} cannot be unwrapped incrementally: answer in one piece instead
            response = await self.request(messages, settings=settings, output_schema=output_schema)
            yield response.text
            return
        params["stream"] = True

        async def call() -> Any:
            return await self._client().messages.create(**params, timeout=timeout)

        def pieces(event: Any) -> list[str]:
            if getattr(event, "type", None) != "content_block_delta":
                return []
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                return [delta.text]
            if delta.type == "input_json_delta" and delta.partial_json:
                return [delta.partial_json]
            return []

        async for piece in self._stream_pieces(call, pieces, timeout=timeout):
            yield piece

