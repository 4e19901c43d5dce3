"""One retry policy for every hosted provider, and the mapping of SDK errors to ``ModelError``.

The SDKs' own retries are switched off (``max_retries=0``) so that this module is the single policy: exponential
backoff with jitter on 429, 408, 409, 5xx and connection errors, honouring ``Retry-After`` (seconds or an HTTP
date) and ``retry-after-ms``. The clock (``sleep``) and the jitter source (``random``) are injectable so tests
can assert the exact delays without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random as _random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kaizen_lab.errors import KaizenTimeoutError, ModelError

__all__ = ["ModelTimeoutError", "RetryPolicy", "map_sdk_error", "observe_retries", "parse_retry_after", "redact",
           "with_retries"]

T = TypeVar("T")
RetryObserver = Callable[[int, ModelError, float], None]

# the caller (an agent run) observes the retries made on its behalf without the model knowing about runs
_observer: ContextVar[RetryObserver | None] = ContextVar("kaizen_retry_observer", default=None)


@contextlib.contextmanager
def observe_retries(observer: RetryObserver) -> Iterator[None]:
    """Call ``observer(attempt, error, delay)`` before every provider retry made inside this block (this task)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)

RETRYABLE_STATUS = frozenset({408, 409, 429})


class ModelTimeoutError(ModelError, KaizenTimeoutError):
    """A model request that exceeded its timeout: catchable as ``ModelError`` and as ``TimeoutError``."""

    def __init__(self, message: str, *, provider: str = "", seconds: float | None = None) -> None:
        super().__init__(message, provider=provider, retryable=True)
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    The delay before retry ``n`` (1-based) is ``min(max_delay, initial_delay * multiplier ** (n - 1))`` scaled
    by a random factor in ``[1 - jitter, 1]``, unless the server sent ``Retry-After``, which wins (capped at
    ``max_retry_after``).

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_delay: seconds before the first retry.
        multiplier: growth factor per retry.
        max_delay: cap on a computed delay.
        jitter: fraction of the delay that is randomised (0 = none), so concurrent clients spread out.
        max_retry_after: cap on a server-requested delay.
        sleep: the async sleep used between attempts (injectable for tests).
        random: returns a float in [0, 1) (injectable for tests).
    """

    max_retries: int = 3
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1.0 - self.jitter * self.random())


async def with_retries(call: Callable[[], Awaitable[T]], *, policy: RetryPolicy,
                       on_retry: RetryObserver | None = None) -> T:
    """Await ``call()``; on a retryable ``ModelError`` wait and try again, up to ``policy.max_retries`` times.

    The last error is raised with ``attempts`` set to the number of attempts made.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ModelError as exc:
            if not exc.retryable or attempt > policy.max_retries:
                exc.attempts = attempt  # type: ignore[attr-defined]
                if attempt > 1:
                    exc.message = f"{exc.message} (after {attempt} attempts)"
                    exc.args = (exc.message,)
                raise
            wait = policy.delay(attempt, exc.retry_after)
            for observer in (on_retry, _observer.get()):
                if observer is not None:
                    observer(attempt, exc, wait)
            await policy.sleep(wait)
            attempt += 1


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (delta-seconds or an HTTP date); ``None`` if absent."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact(value: Any, secrets: Iterable[str | None]) -> Any:
    """``value`` with every secret replaced by ``***`` (strings, and strings nested in dicts/lists)."""
    keep: list[str] = [s for s in secrets if s and len(s) >= 4]
    if not keep:
        return value
    if isinstance(value, str):
        for secret in keep:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, keep) for v in value)
    return value


def _api_message(body: Any, fallback: str) -> str:
    # OpenAI: {"error": {"message": ...}}; Anthropic: {"type": "error", "error": {"message": ...}}
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return fallback


_HINTS = {
    401: "check the API key ({env})",
    403: "the API key lacks access to this model or endpoint",
    404: "check the model name and the base URL",
    429: "rate limited: lower the request rate or raise max_retries",
}


def map_sdk_error(exc: BaseException, *, provider: str, sdk: Any, secrets: Iterable[str | None] = (),
                  key_env: str = "", timeout: float | None = None) -> ModelError:
    """Turn an ``openai``/``anthropic`` SDK exception into a typed ``ModelError`` (secrets redacted)."""
    secrets = list(secrets)
    if isinstance(exc, sdk.APITimeoutError):
        limit = f" after {timeout:g}s" if timeout is not None else ""
        return ModelTimeoutError(f"{provider} request timed out{limit}; raise ModelSettings(timeout=...) or the "
                                 "model's timeout=", provider=provider, seconds=timeout)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        body = exc.body
        if body is None:
            try:
                body = exc.response.text
            except Exception:  # noqa: BLE001 - a streamed body may be unreadable; the status still tells
                body = None
        body = redact(body, secrets)
        detail = redact(_api_message(body, str(exc)), secrets)
        hint = _HINTS.get(status, "")
        if hint:
            hint = "; " + hint.format(env=key_env or "the API key")
        retryable = status in RETRYABLE_STATUS or status >= 500
        retry_after = parse_retry_after(exc.response.headers) if retryable else None
        return ModelError(f"{provider} returned HTTP {status}: {detail}{hint}", provider=provider, status=status,
                          body=body, retryable=retryable, retry_after=retry_after)
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = redact(f"{type(cause).__name__}: {cause}" if cause else str(exc), secrets)
        return ModelError(f"could not connect to {provider}: {reason}; check the base URL and that the server "
                          "is running", provider=provider, retryable=True)
    if isinstance(exc, sdk.APIResponseValidationError):
        return ModelError(f"{provider} sent a response that does not match its API: {redact(str(exc), secrets)}",
                          provider=provider, status=exc.status_code, body=redact(exc.body, secrets))
    if isinstance(exc, ValueError):  # json.JSONDecodeError from a malformed body
        return ModelError(f"{provider} sent malformed JSON: {redact(str(exc), secrets)}", provider=provider,
                          body=redact(getattr(exc, "doc", None), secrets))
    return ModelError(f"{provider} request failed: {type(exc).__name__}: {redact(str(exc), secrets)}",
                      provider=provider)
