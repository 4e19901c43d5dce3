"""Resource subscriptions on the client: ``conn.subscribe(uri)`` returns a ``ResourceSubscription`` that hears
every ``notifications/resources/updated`` for that URI (or a resource below it, as the spec allows).

The server tells; the user hears it three ways, pick any: a ``callback(update)`` (run on the background loop,
so keep it short), ``async for update in sub`` (on whichever loop iterates), or ``sub.wait(timeout)`` from
synchronous code. Each update is also an ``MCPNotified`` event (``what="resource_updated"``) and lands in
``conn.notifications``.

On 2025 sessions the client sends ``resources/subscribe``; on 2026 sessions, where that method is gone, the
subscribed URIs ride on the connection's ``subscriptions/listen`` stream, which is reopened with the new set.
After a reconnect the subscriptions are renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from kaizen_lab.errors import MCPError
from kaizen_lab.mcp._bridge import on_loop

if TYPE_CHECKING:
    from kaizen_lab.mcp.client import MCPConnection

__all__ = ["ResourceSubscription", "ResourceSubscriptions", "ResourceUpdate", "covers"]


@dataclass(frozen=True)
class ResourceUpdate:
    """The server said the resource at ``uri`` changed (read it again to see how)."""

    uri: str
    server: str
    received: float = field(default_factory=time.time)


def covers(subscribed: str, uri: str) -> bool:
    """Whether an update for ``uri`` belongs to a subscription to ``subscribed`` (itself or a sub-resource)."""
    return uri == subscribed or uri.startswith(subscribed.rstrip("/") + "/")


class ResourceSubscription:
    """One subscription to a resource's updates; ``unsubscribe()`` (or leaving its ``with`` block) ends it."""

    def __init__(self, conn: MCPConnection, uri: str,
                 callback: Callable[[ResourceUpdate], Any] | None = None, *, keep: int = 100) -> None:
        self.conn = conn
        self.uri = uri
        self.callback = callback
        #: the most recent updates, oldest first
        self.updates: deque[ResourceUpdate] = deque(maxlen=keep)
        self.count = 0
        self.active = True
        self._cond = threading.Condition()
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ResourceUpdate | None]]] = []

    def __repr__(self) -> str:
        state = "active" if self.active else "ended"
        return f"ResourceSubscription({self.uri!r} on {self.conn.name!r}, {self.count} updates, {state})"

    # -- delivery (on the background loop) ----------------------------------------------------------------
    def _deliver(self, update: ResourceUpdate) -> None:
        with self._cond:
            self.updates.append(update)
            self.count += 1
            self._cond.notify_all()
        for loop, queue in list(self._queues):
            with contextlib.suppress(RuntimeError):  # that loop is gone: its iterator ended with it
                loop.call_soon_threadsafe(queue.put_nowait, update)
        if self.callback is not None:
            try:
                self.callback(update)
            except Exception as exc:  # noqa: BLE001 - a callback's bug must not break the session
                from kaizen_lab.mcp._requests import _notify

                _notify(self.conn, None, "warning", reason=f"resource update callback for {self.uri} raised "
                                                           f"{type(exc).__name__}: {exc}"[:300])

    def _end(self) -> None:
        with self._cond:
            self.active = False
            self._cond.notify_all()
        for loop, queue in list(self._queues):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, None)

    # -- consuming ------------------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, after: int | None = None) -> ResourceUpdate | None:
        """Block until an update beyond the first ``after`` (default: those seen so far) arrives; the update,
        or ``None`` on timeout or when the subscription ended."""
        with self._cond:
            seen = self.count if after is None else after
            self._cond.wait_for(lambda: self.count > seen or not self.active, timeout)
            return self.updates[-1] if self.count > seen and self.updates else None

    async def __aiter__(self) -> AsyncIterator[ResourceUpdate]:
        """Updates as they arrive, until the subscription ends."""
        queue: asyncio.Queue[ResourceUpdate | None] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        self._queues.append(entry)
        try:
            while self.active or not queue.empty():
                update = await queue.get()
                if update is None:
                    return
                yield update
        finally:
            with contextlib.suppress(ValueError):
                self._queues.remove(entry)

    # -- ending ---------------------------------------------------------------------------------------------
    async def aunsubscribe(self) -> None:
        await self.conn.aunsubscribe(self)

    def unsubscribe(self) -> None:
        self.conn.unsubscribe(self)

    def __enter__(self) -> ResourceSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self.unsubscribe()


class ResourceSubscriptions:
    """The subscription half of ``MCPConnection`` (mixed into it): subscribe, unsubscribe, and delivery of
    ``notifications/resources/updated`` to the subscriptions that cover the URI."""

    if TYPE_CHECKING:  # what it uses of MCPConnection
        name: str
        protocol_version: str | None
        capabilities: dict[str, Any]
        connect_timeout: float
        call_timeout: float
        _subs: dict[str, list[ResourceSubscription]]
        _client: Any
        _listen_ack: asyncio.Event | None

        async def _await_client(self, timeout: float) -> Any: ...
        async def _request(self, what: str, tool: str, timeout: float | None, fn: Callable[[Any], Any]) -> Any: ...
        async def _stop_listen(self) -> None: ...
        def _start_listen(self, client: Any) -> None: ...
        def _sync(self, coro: Any, timeout: float | None) -> Any: ...

    @property
    def _modern(self) -> bool:
        return str(self.protocol_version or "") >= "2026"

    def _resource_updated(self, uri: str) -> None:
        from kaizen_lab.mcp._requests import _notify

        _notify(cast("MCPConnection", self), None, "resource_updated", uri=uri)
        update = ResourceUpdate(uri, self.name)
        for subscribed, subs in list(self._subs.items()):
            if covers(subscribed, uri):
                for sub in list(subs):
                    sub._deliver(update)

    async def _renew_subscriptions(self, client: Any) -> None:
        """After a (re)connect on a 2025 session, subscribe again to every URI still wanted."""
        if self._modern:
            return  # the listen stream opened next carries them
        for uri in list(self._subs):
            with contextlib.suppress(Exception):
                await _legacy(client, "subscribe_resource", uri)

    async def asubscribe(self, uri: str, callback: Callable[[ResourceUpdate], Any] | None = None
                         ) -> ResourceSubscription:
        """Hear about changes to the resource at ``uri``: the returned ``ResourceSubscription`` calls
        ``callback(update)``, yields updates to ``async for``, and answers ``wait(timeout)``. ``MCPError`` when the
        server offers no subscriptions."""
        return await on_loop(self._subscribe(uri, callback))

    async def _subscribe(self, uri: str, callback: Callable[[ResourceUpdate], Any] | None) -> ResourceSubscription:
        await self._await_client(self.connect_timeout)
        resources = self.capabilities.get("resources")
        if not (isinstance(resources, Mapping) and resources.get("subscribe")):
            raise MCPError(f"MCP server {self.name!r} offers no resource subscriptions (its capabilities have no "
                           "resources.subscribe); read the resource again instead", server=self.name)
        sub = ResourceSubscription(cast("MCPConnection", self), uri, callback)
        first = uri not in self._subs
        self._subs.setdefault(uri, []).append(sub)
        if first:
            try:
                await self._subscription_changed(uri, "subscribe_resource")
            except BaseException:
                self._subs[uri].remove(sub)
                if not self._subs[uri]:
                    del self._subs[uri]
                raise
        return sub

    async def aunsubscribe(self, subscription: ResourceSubscription | str) -> None:
        """End one subscription (or every subscription to a URI); the server is told when none is left."""
        await on_loop(self._unsubscribe(subscription))

    async def _unsubscribe(self, subscription: ResourceSubscription | str) -> None:
        uri = subscription if isinstance(subscription, str) else subscription.uri
        subs = self._subs.get(uri, [])
        ended = list(subs) if isinstance(subscription, str) else [s for s in subs if s is subscription]
        for sub in ended:
            subs.remove(sub)
            sub._end()
        if uri in self._subs and not subs:
            del self._subs[uri]
            if self._client is not None:
                await self._subscription_changed(uri, "unsubscribe_resource")

    async def _subscription_changed(self, uri: str, method: str) -> None:
        if not self._modern:
            await self._request(f"resources/{method.split('_')[0]} {uri}", "", None,
                                lambda c: _legacy(c, method, uri))
            return
        # 2026: the subscribed URIs travel with subscriptions/listen; reopen it with the new set
        client = await self._await_client(self.connect_timeout)
        await self._stop_listen()
        self._start_listen(client)
        assert self._listen_ack is not None
        try:
            await asyncio.wait_for(self._listen_ack.wait(), self.call_timeout)
        except TimeoutError:
            from kaizen_lab.mcp.client import MCPTimeoutError

            raise MCPTimeoutError(f"MCP server {self.name!r} did not acknowledge subscriptions/listen within "
                                  f"{self.call_timeout}s", server=self.name, seconds=self.call_timeout) from None

    def subscriptions(self) -> list[ResourceSubscription]:
        return [sub for subs in self._subs.values() for sub in subs]

    def subscribe(self, uri: str, callback: Callable[[ResourceUpdate], Any] | None = None) -> ResourceSubscription:
        """Sync form of ``asubscribe``."""
        return self._sync(self.asubscribe(uri, callback), None)

    def unsubscribe(self, subscription: ResourceSubscription | str) -> None:
        """Sync form of ``aunsubscribe``."""
        self._sync(self.aunsubscribe(subscription), None)


async def _legacy(client: Any, method: str, uri: str) -> Any:
    """``resources/subscribe``/``unsubscribe``: how 2025 sessions subscribe (deprecated for 2026 ones only)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return await getattr(client, method)(uri)
