"""Limits for HTTP channels: body size, JSON nesting depth, and slow clients.

``LimitsMiddleware`` sits in front of any ASGI app (the deployment API, its MCP channel, the agent MCP server):
every request body is read under a size limit (413) and a deadline (408), and a JSON body must parse and nest
at most ``max_depth`` levels (400), before the app sees it. Python's ``json`` module and pydantic fail on deep
nesting with a ``RecursionError`` (a 500) or spend long on it; refusing early keeps that out of every route.

Slow clients that never finish their request line and headers are not visible to ASGI at all, so
``uvicorn_http_protocol()`` gives uvicorn an h11 protocol that closes a connection whose next request's
headers do not arrive within ``header_timeout`` seconds (uvicorn itself only times out idle keep-alives).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["MAX_BODY", "MAX_DEPTH", "LimitsMiddleware", "json_depth_exceeds", "parse_json", "read_body",
           "uvicorn_http_protocol"]

MAX_BODY = 1 << 20  # bytes
MAX_DEPTH = 64  # JSON nesting levels
BODY_TIMEOUT = 30.0  # seconds for the whole body
HEADER_TIMEOUT = 10.0  # seconds for a request line and headers

_STRUCTURE = re.compile(rb'[\[\]{}"\\]')

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyError(Exception):
    """A request body that breaks a limit: ``status`` (408/413) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_depth_exceeds(raw: bytes | str, max_depth: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests deeper than ``max_depth`` (brackets inside strings are not counted).

    A linear scan of the text, run before parsing, so hostile nesting never reaches a recursive parser.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # cannot nest deeper than it has brackets
    depth = 0
    in_string = False
    skip = -1  # position of a character escaped by a backslash
    for match in _STRUCTURE.finditer(data):
        pos = match.start()
        if pos == skip:
            continue
        char = match.group()
        if in_string:
            if char == b"\\":
                skip = pos + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def parse_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> tuple[Any, str | None]:
    """(value, None) or (None, why it was refused): invalid JSON, or nested deeper than ``max_depth``."""
    if json_depth_exceeds(raw, max_depth):
        return None, f"the JSON body nests deeper than {max_depth} levels"
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"the request body is not valid JSON ({exc})"


async def read_body(receive: Receive, *, max_body: int = MAX_BODY, timeout: float = BODY_TIMEOUT) -> bytes | None:
    """The whole body (``None`` if the client went away); raises ``BodyError`` past the size or time limit."""
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            raise BodyError(408, f"the request body did not arrive within {timeout:g} s") from None
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise BodyError(413, f"the request body is larger than {max_body} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the original (for disconnects)."""
    sent = False

    async def again() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def respond_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-type":
            return b"json" in value.lower()
    return False


class LimitsMiddleware:
    """Refuse oversized (413), slow (408), malformed or too deeply nested JSON (400) request bodies.

    Args:
        app: the ASGI app behind it (it receives the body already read, in one message).
        max_body: bytes allowed per request body.
        max_depth: JSON nesting levels allowed.
        body_timeout: seconds the client has to send the whole body.
        jsonrpc: answer refusals as JSON-RPC errors (for MCP endpoints) instead of ``{"detail": ...}``.
        check_json: validate bodies sent as JSON (``content-type: ...json``); other bodies only get the limits.
    """

    def __init__(self, app: Any, *, max_body: int = MAX_BODY, max_depth: int = MAX_DEPTH,
                 body_timeout: float = BODY_TIMEOUT, jsonrpc: bool = False, check_json: bool = True) -> None:
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth
        self.body_timeout = body_timeout
        self.jsonrpc = jsonrpc
        self.check_json = check_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > self.max_body:
                await self._refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
                return
        try:
            body = await read_body(receive, max_body=self.max_body, timeout=self.body_timeout)
        except BodyError as exc:
            await self._refuse(send, exc.status, exc.message)
            return
        if body is None:
            return
        if self.check_json and body.strip() and (self.jsonrpc or _is_json(scope)):
            _value, problem = parse_json(body, max_depth=self.max_depth)
            if problem is not None:
                await self._refuse(send, 400, problem)
                return
        await self.app(scope, replay(body, receive), send)

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        if self.jsonrpc:
            code = -32700 if status == 400 else -32600
            await respond_json(send, status, {"jsonrpc": "2.0", "id": None,
                                              "error": {"code": code, "message": message}})
        else:
            kind = {400: "json_invalid", 408: "timeout", 413: "too_large"}.get(status, "invalid")
            await respond_json(send, status, {"detail": [{"loc": ["body"], "msg": message, "type": kind}]})


def uvicorn_http_protocol(header_timeout: float = HEADER_TIMEOUT) -> type[Any]:
    """An h11 protocol class for ``uvicorn.Config(http=...)`` that closes connections whose request line and
    headers take longer than ``header_timeout`` seconds (slowloris)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class SlowClientTimeoutProtocol(H11Protocol):  # type: ignore[misc]
        _timer: asyncio.TimerHandle | None = None
        _armed_for: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._armed_for = self.cycle
            self._timer = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and self.cycle is not self._armed_for:
                self._disarm()  # a new request's headers are complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this keep-alive connection gets the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _too_slow(self) -> None:
            self._timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return SlowClientTimeoutProtocol
