"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp server) on the official SDK.

Chat Completions is the one wire format all of these speak. Structured output uses ``response_format`` with a
JSON schema; tool calls map to ``ToolCall``. The SDK's own retries are off: ``_retry.RetryPolicy`` is the one
policy, so the delays are the same for every provider and visible to tests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from kaizen_lab.errors import ModelError
from kaizen_lab.messages import ImagePart, Message, ToolCall, ToolSpec
from kaizen_lab.models._hosted import HostedModel, response_body, split_images
from kaizen_lab.models._retry import RetryPolicy
from kaizen_lab.models.base import ModelResponse, ModelSettings, TokenLogprob, Usage

__all__ = ["OpenAIModel", "to_openai_messages", "to_openai_tools"]

OPENAI_BASE_URL = "https://api.openai.com/v1"

_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length",
           "content_filter": "content_filter"}


def _image_part(image: ImagePart) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image.data_url()}}


def to_openai_messages(messages: Sequence[Message], *, images: bool = True) -> list[dict[str, Any]]:
    """Our messages in Chat Completions form (system, user, assistant with tool calls, tool results).

    Images go as ``image_url`` content parts with data URLs. A tool message can carry text only, so the images
    of tool results follow the run of tool messages in one user message, each group introduced by its call id;
    with ``images=False`` (or for a type the API refuses) each image is a placeholder line instead."""
    out: list[dict[str, Any]] = []
    tool_images: list[dict[str, Any]] = []
    for m in messages:
        if m.role != "tool" and tool_images:
            out.append({"role": "user", "content": tool_images})
            tool_images = []
        text, sendable = split_images(m, allowed=images)
        if m.role == "tool":
            if sendable:
                text += f"\n[{len(sendable)} image(s) of this result follow in the next user message]"
                tool_images.append({"type": "text", "text": f"Images returned by tool {m.name or ''} "
                                                            f"(call {m.tool_call_id}):"})
                tool_images += [_image_part(image) for image in sendable]
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": text.lstrip("\n")})
            continue
        item: dict[str, Any] = {"role": m.role, "content": text}
        if sendable:
            item["content"] = ([{"type": "text", "text": text}] if text else []) + \
                [_image_part(image) for image in sendable]
        if m.name and m.role in ("user", "system"):
            item["name"] = m.name
        if m.role == "assistant" and m.tool_calls:
            item["content"] = text or None
            item["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                for c in m.tool_calls
            ]
        out.append(item)
    if tool_images:
        out.append({"role": "user", "content": tool_images})
    return out


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters or {"type": "object", "properties": {}}}}
            for t in tools]


def _schema_name(schema: Mapping[str, Any]) -> str:
    # response_format names allow [a-zA-Z0-9_-]{1,64}
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", str(schema.get("title") or "output"))
    return name[:64] or "output"


def _token_logprobs(logprobs: Any) -> tuple[TokenLogprob, ...] | None:
    """``choices[0].logprobs.content`` as ``TokenLogprob``s; ``None`` when the server sent none."""
    content = getattr(logprobs, "content", None)
    if not content:
        return None
    out = []
    for item in content:
        raw = getattr(item, "bytes", None)
        top = tuple((str(t.token), float(t.logprob)) for t in getattr(item, "top_logprobs", None) or ())
        out.append(TokenLogprob(str(item.token), float(item.logprob), bytes(raw) if raw else b"", top))
    return tuple(out)


class OpenAIModel(HostedModel):
    """A model behind the OpenAI Chat Completions API, or any server speaking it.

    Args:
        name: the model name, e.g. ``"gpt-4o-mini"`` or ``"llama3.2"``.
        base_url: the server (default ``OPENAI_BASE_URL`` or OpenAI's); e.g. ``http://127.0.0.1:11434/v1``.
        api_key: the key (default ``OPENAI_API_KEY``); servers on this machine need none.
        provider_name: shown in labels, traces and errors (``"ollama"`` for Ollama).
        organization: OpenAI organization id (default ``OPENAI_ORG_ID``).
        project: OpenAI project id (default ``OPENAI_PROJECT_ID``).
        timeout: seconds per request attempt (``ModelSettings.timeout`` overrides it per request).
        max_retries: retries on 429/5xx/connection errors (ignored when ``retry`` is given).
        retry: a full ``RetryPolicy`` (backoff, jitter, injectable sleep).
        settings: default ``ModelSettings`` merged under each request's.
        structured_output: send ``response_format`` JSON schemas (turn off for servers without support;
            agents then ask for JSON in the instructions).
        strict: ask for strict schema adherence (the schema must then meet OpenAI's strict-mode rules).
        prices: price overrides for this model, ``{name: {input, output}}`` USD per 1M tokens.
        headers: extra HTTP headers sent with every request.
        supports_images: send messages' images as ``image_url`` parts (turn off for text-only models; they
            then get a placeholder line per image).
    """

    sdk_name = "openai"
    extra = "openai"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = OPENAI_BASE_URL

    def __init__(self, name: str = "gpt-4o-mini", *, base_url: str | None = None, api_key: str | None = None,
                 provider_name: str = "openai", organization: str | None = None, project: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, retry: RetryPolicy | None = None,
                 settings: ModelSettings | None = None, structured_output: bool = True, strict: bool = False,
                 prices: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                 supports_images: bool = True) -> None:
        super().__init__(name, provider_name=provider_name, api_key=api_key, base_url=base_url, timeout=timeout,
                         max_retries=max_retries, retry=retry, settings=settings, prices=prices)
        self.supports_images = supports_images
        self.organization = organization
        self.project = project
        self.headers = dict(headers or {})
        self.supports_structured_output = structured_output
        self.strict = strict

    def _make_client(self) -> Any:
        return self.sdk.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url, organization=self.organization,
                                    project=self.project, timeout=self.timeout, max_retries=0,
                                    default_headers=self.headers or None)

    def _params(self, messages: Sequence[Message], settings: ModelSettings, tools: Sequence[ToolSpec] | None,
                output_schema: dict[str, Any] | None) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.name, "messages": to_openai_messages(messages, images=self.supports_images)}
        if settings.temperature is not None:
            params["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            # OpenAI's own API replaced max_tokens (reasoning models reject it); compatible servers know max_tokens
            key = "max_completion_tokens" if self.base_url == OPENAI_BASE_URL else "max_tokens"
            params[key] = settings.max_tokens
        if settings.top_p is not None:
            params["top_p"] = settings.top_p
        if settings.seed is not None:
            params["seed"] = settings.seed
        if settings.stop:
            params["stop"] = list(settings.stop)
        if settings.logprobs:
            params["logprobs"] = True
            if settings.top_logprobs:
                params["top_logprobs"] = settings.top_logprobs
        if tools:
            params["tools"] = to_openai_tools(tools)
        if output_schema is not None and self.supports_structured_output:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": _schema_name(output_schema), "schema": output_schema, "strict": self.strict}}
        return params

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        """One chat completion (retried on transient failures); see ``Model.request``."""
        merged = self.settings.merged(settings)
        timeout = self._timeout(merged)
        params = self._params(messages, merged, tools, output_schema)
        start = time.perf_counter()

        async def call() -> Any:
            completion = await self._client().chat.completions.create(**params, timeout=timeout)
            if isinstance(completion, str | bytes):  # a non-JSON body the SDK passed through as text
                raise ModelError(f"{self.provider} sent a non-JSON response", provider=self.provider,
                                 body=completion[:2000])
            return completion

        completion = await self._call(call, timeout=timeout)
        latency = (time.perf_counter() - start) * 1000
        return self._response(completion, latency)

    def _response(self, completion: Any, latency_ms: float) -> ModelResponse:
        try:
            choice = completion.choices[0]
            message = choice.message
            text = message.content or ""
            raw_calls = message.tool_calls or []
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelError(f"{self.provider} sent a response without choices[0].message: {exc}",
                             provider=self.provider, body=response_body(completion)) from None
        if getattr(message, "refusal", None) and not text and not raw_calls:
            raise ModelError(f"{self.provider} refused the request: {message.refusal}", provider=self.provider,
                             body=response_body(completion))
        calls = tuple(self._tool_call(c, completion) for c in raw_calls)
        usage_obj = getattr(completion, "usage", None)
        usage = Usage(int(getattr(usage_obj, "prompt_tokens", 0) or 0),
                      int(getattr(usage_obj, "completion_tokens", 0) or 0))
        finish_reason = _FINISH.get(finish or "", finish or "stop")
        if calls and finish_reason == "stop":
            finish_reason = "tool_calls"  # some compatible servers report "stop" alongside tool calls
        return ModelResponse(text=text, tool_calls=calls, usage=usage,
                             model_name=getattr(completion, "model", None) or self.name, latency_ms=latency_ms,
                             finish_reason=finish_reason, cost=self._cost(usage), raw=completion,
                             logprobs=_token_logprobs(getattr(choice, "logprobs", None)))

    def _tool_call(self, call: Any, completion: Any) -> ToolCall:
        function = call.function
        raw_args = function.arguments or "{}"
        try:
            arguments = json.loads(raw_args)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{self.provider} called tool {function.name!r} with arguments that are not JSON "
                             f"({exc}): {raw_args[:200]!r}", provider=self.provider, body=response_body(completion)) from None
        if not isinstance(arguments, dict):
            raise ModelError(f"{self.provider} called tool {function.name!r} with {type(arguments).__name__} "
                             "arguments; expected a JSON object", provider=self.provider, body=response_body(completion))
        return ToolCall(call.id or f"call_{function.name}", function.name, arguments)

    async def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                     output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]:
        """Yield text deltas as they arrive. Opening the stream is retried; a failure mid-stream is not (the
        caller has already seen part of the answer) and raises ``ModelError``."""
        merged = self.settings.merged(settings)
        timeout = self._timeout(merged)
        params = self._params(messages, merged, None, output_schema)
        params["stream"] = True
        if self.base_url == OPENAI_BASE_URL:
            params["stream_options"] = {"include_usage": True}

        async def call() -> Any:
            return await self._client().chat.completions.create(**params, timeout=timeout)

        def pieces(chunk: Any) -> list[str]:
            deltas = (choice.delta for choice in getattr(chunk, "choices", None) or () if choice.delta is not None)
            return [text for text in (getattr(d, "content", None) for d in deltas) if text]

        async for piece in self._stream_pieces(call, pieces, timeout=timeout):
            yield piece

