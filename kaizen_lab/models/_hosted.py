"""What the hosted providers share: SDK import with an install hint, key lookup, one client per event loop,
the real-requests guard, the retry policy and error mapping, usage timing and cost."""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from kaizen_lab.errors import ModelError, UserError
from kaizen_lab.messages import ImagePart, Message
from kaizen_lab.models._retry import RetryPolicy, map_sdk_error, with_retries
from kaizen_lab.models.base import ModelBase, ModelSettings, check_allow_real_requests
from kaizen_lab.models.pricing import cost_for, normalize_prices

T = TypeVar("T")

KEYLESS_HINT = ("or use a keyless model: model='local' (the embedded model), model='test', or "
                "model='ollama:llama3.2' (a local Ollama server)")


#: the image types both hosted APIs accept (OpenAI and Anthropic alike)
WIRE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def split_images(message: Message, *, allowed: bool) -> tuple[str, tuple[ImagePart, ...]]:
    """``(text, images to send)`` for one message: images the provider can't take (the model takes none,
    a role that can't carry them, a type outside ``WIRE_IMAGE_TYPES``) become placeholder lines in the text."""
    if not message.images:
        return message.content, ()
    lines, send = [message.content] if message.content else [], []
    for image in message.images:
        if not allowed or message.role in ("system", "assistant"):
            lines.append(image.placeholder())
        elif image.mime_type not in WIRE_IMAGE_TYPES:
            lines.append(image.placeholder(f"{image.mime_type} is not one of {', '.join(sorted(WIRE_IMAGE_TYPES))}"))
        else:
            send.append(image)
    return "\n".join(lines), tuple(send)


def is_loopback(url: str | None) -> bool:
    """Whether ``url`` points at this machine (local servers usually need no key)."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostedModel(ModelBase):
    """Base of the SDK-backed providers. Subclasses set the class attributes and implement ``_make_client``."""

    hosted = True
    sdk_name = ""
    extra = ""
    key_env = ""
    base_url_env = ""
    default_base_url = ""

    def __init__(self, name: str, *, provider_name: str, api_key: str | None, base_url: str | None,
                 timeout: float, max_retries: int, retry: RetryPolicy | None, settings: ModelSettings | None,
                 prices: Mapping[str, Any] | None) -> None:
        self.name = name
        self.provider = provider_name
        self.sdk = self._import_sdk()
        self.base_url = base_url or os.environ.get(self.base_url_env) or self.default_base_url
        key = api_key or os.environ.get(self.key_env)
        if not key:
            if not is_loopback(self.base_url):
                raise UserError(f"no API key for {provider_name}: set {self.key_env} (or pass api_key=...), "
                                f"{KEYLESS_HINT}")
            key = "unused"  # local OpenAI-compatible servers ignore the key but the SDK insists on one
        self._api_key = key
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy(max_retries=max_retries)
        self.settings = settings or ModelSettings()
        self.prices = normalize_prices(prices) if prices else None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._clients_lock = threading.Lock()
        #: called as ``on_retry(attempt, error, delay)`` before each retry (e.g. to emit ``Retried`` events)
        self.on_retry: Callable[[int, ModelError, float], None] | None = None

    def _import_sdk(self) -> Any:
        try:
            return importlib.import_module(self.sdk_name)
        except ImportError as exc:
            raise UserError(f"the {self.sdk_name} provider needs the {self.sdk_name!r} package: "
                            f'pip install "kaizen-lab[{self.extra}]"') from exc

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _client(self) -> Any:
        # an SDK client's connection pool belongs to the event loop that opened it, and kaizen-lab runs
        # coroutines on several loops (the caller's, a per-thread one, the background one): one client per loop
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(loop)
                if client is None:
                    client = self._make_client()
                    self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the HTTP client this event loop uses (a later request opens a new one)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _timeout(self, settings: ModelSettings) -> float:
        return settings.timeout if settings.timeout is not None else self.timeout

    async def _call(self, fn: Callable[[], Awaitable[T]], *, timeout: float) -> T:
        """Guard, then ``fn()`` under the retry policy with SDK errors mapped to ``ModelError``."""
        check_allow_real_requests(self.provider)

        async def attempt() -> T:
            try:
                return await fn()
            except ModelError:
                raise
            except Exception as exc:  # noqa: BLE001 - every SDK/transport failure becomes a typed ModelError
                error = self._error(exc, timeout)
            # raised outside the except block so the SDK exception is not chained as __context__: it holds the
            # request, whose headers carry the key
            raise error

        return await with_retries(attempt, policy=self.retry, on_retry=self.on_retry)

    async def _stream_pieces(self, fn: Callable[[], Awaitable[Any]], pieces: Callable[[Any], Iterable[str]], *,
                             timeout: float) -> AsyncIterator[str]:
        """Open a stream with ``fn`` (guarded and retried like ``_call``) and yield the text ``pieces(chunk)`` finds.

        A failure mid-stream is a typed ``ModelError``; the stream is closed however it ends."""
        chunks = await self._call(fn, timeout=timeout)
        try:
            async for chunk in chunks:
                for piece in pieces(chunk):
                    yield piece
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error, key redacted
            error = self._error(exc, timeout)
        else:
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await close()
        raise error  # outside the except block: the SDK exception (holding the request headers) is not chained

    def _error(self, exc: BaseException, timeout: float | None = None) -> ModelError:
        return map_sdk_error(exc, provider=self.provider, sdk=self.sdk, secrets=[self._api_key],
                             key_env=self.key_env, timeout=timeout)

    def _cost(self, usage: Any) -> float | None:
        return cost_for(self.label, usage, self.prices)

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url != self.default_base_url else ""
        return f"{type(self).__name__}({self.name!r}{where})"


def response_body(obj: Any) -> Any:
    """A provider response as plain data for ``ModelError.body`` (its repr when it cannot be dumped)."""
    dump = getattr(obj, "model_dump", None)
    try:
        return dump() if dump is not None else obj
    except Exception:  # noqa: BLE001 - the body is informational
        return repr(obj)
