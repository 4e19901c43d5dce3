"""The model protocol every provider implements.

Messages, tool calls and tool specs live on the ground floor (``kaizen_lab.messages``); they are re-exported
here for existing imports.

A model is one small async method, ``request(messages, *, settings, tools, output_schema) -> ModelResponse``,
plus ``stream(...)`` yielding text deltas. ``ModelBase`` adds the sync facade (``request_sync``) that works
inside a running event loop, and a default ``stream`` built on ``request``.

``ALLOW_REAL_REQUESTS`` is the global guard that tests switch off: a hosted model asked to make a request
while it is off raises ``RealRequestsForbiddenError`` naming the guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import RealRequestsForbiddenError
from kaizen_lab.messages import ImagePart, Message, ToolCall, ToolSpec

__all__ = [
    "ALLOW_REAL_REQUESTS",
    "ImagePart",
    "Message",
    "Model",
    "ModelBase",
    "ModelResponse",
    "ModelSettings",
    "RequestInfo",
    "ToolCall",
    "TokenLogprob",
    "ToolSpec",
    "Usage",
    "check_allow_real_requests",
    "override_allow_real_requests",
]

@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Per-request settings; ``None`` means the provider's default."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    timeout: float | None = None
    #: ask for per-token log-probabilities (hosted models send none unless asked; the local model always does)
    logprobs: bool | None = None
    #: with ``logprobs``, also the this many most likely alternatives per token
    top_logprobs: int | None = None

    def merged(self, other: ModelSettings | None) -> ModelSettings:
        """``other``'s explicit values win over ours."""
        if other is None:
            return self
        return replace(self, **{k: getattr(other, k) for k in self.__slots__ if getattr(other, k) is not None})

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.__slots__ if k != "timeout")


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token and its natural-log probability under the model (the OpenAI ``logprobs`` shape).

    ``data`` holds the token's UTF-8 bytes (a character can span tokens, so ``token`` alone may not rebuild the
    text); ``top`` the most likely alternatives at that position as ``(token, logprob)``, best first, when they
    were asked for.
    """

    token: str
    logprob: float
    data: bytes = b""
    top: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.data:
            object.__setattr__(self, "data", self.token.encode())


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """What a model returned: text and/or tool calls, usage, timing and the raw provider object.

    ``logprobs`` lists the answer's tokens with their log-probabilities when the model reports them (the local
    model always; hosted models when ``ModelSettings(logprobs=True)`` was asked and the server supports it);
    ``None`` when it reports none.
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    model_name: str = ""
    latency_ms: float = 0.0
    finish_reason: str = "stop"
    cost: float | None = None
    cache_hit: bool = False
    raw: Any = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a ``FunctionModel`` function is told about the request besides the messages."""

    tools: tuple[ToolSpec, ...] = ()
    output_schema: dict[str, Any] | None = None
    settings: ModelSettings = field(default_factory=ModelSettings)
    call_index: int = 0


@runtime_checkable
class Model(Protocol):
    """The protocol every model satisfies."""

    name: str
    provider: str

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse: ...

    def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
               output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]: ...


class ModelBase:
    """Shared behaviour of every model: a sync facade and a default (non-incremental) stream.

    (Named ``ModelBase`` so it never shadows pydantic's ``BaseModel``; the old name still resolves.)
    """

    name: str = "model"
    provider: str = "custom"
    #: hosted models set this so the test guard can stop them
    hosted: bool = False
    #: whether the provider honours ``output_schema`` natively (structured output)
    supports_structured_output: bool = False
    #: whether the model is given a message's ``images`` as images; the others get a placeholder line per image
    supports_images: bool = False

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        raise NotImplementedError

    async def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                     output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]:
        response = await self.request(messages, settings=settings, output_schema=output_schema)
        yield response.text

    def request_sync(self, messages: Sequence[Message], **kwargs: Any) -> ModelResponse:
        """``request`` from synchronous code, also inside a running event loop (Jupyter)."""
        return run_sync(self.request(messages, **kwargs))

    @property
    def label(self) -> str:
        """``provider:name``, as shown in traces and cards."""
        return f"{self.provider}:{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


ALLOW_REAL_REQUESTS = True


def check_allow_real_requests(provider: str) -> None:
    """Raise when hosted requests are switched off (tests switch them off in conftest)."""
    if not ALLOW_REAL_REQUESTS:
        raise RealRequestsForbiddenError(
            f"a real request to {provider!r} was blocked: kaizen_lab.models.base.ALLOW_REAL_REQUESTS is False. "
            "Use model='test' (or TestModel/FunctionModel/ScriptedModel), or wrap the call in "
            "override_allow_real_requests(True) for a server you started yourself."
        )


@contextlib.contextmanager
def override_allow_real_requests(allow: bool) -> Iterator[None]:
    """Temporarily set ``ALLOW_REAL_REQUESTS`` (e.g. to reach a local wire-format server in a test)."""
    global ALLOW_REAL_REQUESTS
    before = ALLOW_REAL_REQUESTS
    ALLOW_REAL_REQUESTS = allow
    try:
        yield
    finally:
        ALLOW_REAL_REQUESTS = before


def __getattr__(name: str) -> object:
    # The old name of ``ModelBase`` (it shadowed pydantic's BaseModel); kept so existing code keeps working.
    if name == "BaseModel":
        return ModelBase
    raise AttributeError(f"module 'kaizen_lab.models.base' has no attribute {name!r}")
