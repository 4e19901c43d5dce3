"""The background loop that owns MCP sessions, and the pool of live connections.

An MCP ``Client`` is an anyio context: it must be entered and exited by the same task. Notebook cells are
separate tasks and synchronous Kailash nodes run in other threads, so every long-lived session is owned by one
task on kaizen-lab's background loop (``kaizen_lab._aio.background_loop``) and everybody else reaches it through
``on_loop`` (async callers) or ``call_sync`` (sync callers). The pool shares one connection per server spec.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from kaizen_lab._aio import background_loop

if TYPE_CHECKING:
    from kaizen_lab.mcp.client import MCPConnection, ServerSpec

T = TypeVar("T")

__all__ = ["call_sync", "close_all", "connections", "get_connection", "on_loop"]

_pool: dict[tuple[Any, ...], MCPConnection] = {}
_pool_lock = threading.Lock()


def _on_background_thread() -> bool:
    return threading.current_thread().name == "kaizen-lab-loop"


async def on_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the background loop from any event loop (directly when already there)."""
    loop = background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # pragma: no cover - only called from async code
        running = None
    if running is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def call_sync(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and block for its result (any thread but the loop's own).

    Interrupting the wait (Ctrl-C, a notebook's stop button) cancels the coroutine, which cancels the MCP
    request on the server.
    """
    if _on_background_thread():
        coro.close()
        raise RuntimeError("a blocking MCP call was made on kaizen-lab's background loop: await the async form")
    future = asyncio.run_coroutine_threadsafe(coro, background_loop())
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            try:
                return future.result(0.05 if remaining is None else min(0.05, remaining))
            except concurrent.futures.TimeoutError:
                if future.done():
                    return future.result()
    except BaseException:
        future.cancel()
        raise


def get_connection(spec: ServerSpec, **options: Any) -> MCPConnection:
    """The shared connection for ``spec`` (created, not yet connected, on first use)."""
    from kaizen_lab.mcp.client import MCPConnection

    key = spec.key()
    with _pool_lock:
        conn = _pool.get(key)
        if conn is None or conn.status == "closed":
            conn = MCPConnection(spec, **options)
            _pool[key] = conn
        return conn


def connections() -> list[MCPConnection]:
    """Every connection in the pool (live or not), oldest first."""
    with _pool_lock:
        return list(_pool.values())


def forget(conn: MCPConnection) -> None:
    with _pool_lock:
        for key, value in list(_pool.items()):
            if value is conn:
                del _pool[key]


def close_all(timeout: float = 5.0) -> None:
    """Close every pooled connection (stdio servers are stopped)."""
    for conn in connections():
        try:
            conn.close(timeout=timeout)
        except Exception:  # noqa: BLE001 - shutting down: one failed close must not keep the others open
            pass
    with _pool_lock:
        _pool.clear()


@atexit.register
def _close_at_exit() -> None:  # pragma: no cover - exercised at interpreter exit
    if _pool:
        close_all(timeout=2.0)
