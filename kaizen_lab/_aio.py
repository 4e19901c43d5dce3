"""Async inside, sync outside (ARCHITECTURE idea 4).

``run_sync(coro)`` runs a coroutine to completion from synchronous code:
- with no event loop running in this thread, on a loop kept per thread (cheaper than ``asyncio.run``);
- inside a running loop (a Jupyter cell), on one shared background loop thread, so the kernel's loop is never
  re-entered and no ``nest_asyncio`` is needed.

``background_loop()`` is also the home of long-lived async resources (MCP sessions) that notebook cells and
synchronous Kailash nodes share.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["background_loop", "in_running_loop", "run_on_background", "run_sync"]

_local = threading.local()
_bg_loop: asyncio.AbstractEventLoop | None = None
_bg_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide background event loop (started on first use, daemon thread)."""
    global _bg_loop
    if _bg_loop is not None and not _bg_loop.is_closed():
        return _bg_loop
    with _bg_lock:
        if _bg_loop is None or _bg_loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=_run, name="kaizen-lab-loop", daemon=True).start()
            ready.wait()
            _bg_loop = loop
    return _bg_loop


def in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def run_on_background(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` on the shared background loop and block for its result (from any thread but the loop's)."""
    if threading.current_thread().name == "kaizen-lab-loop":
        coro.close()
        raise RuntimeError("a blocking call was made on kaizen-lab's background loop: await the async form")
    future = asyncio.run_coroutine_threadsafe(coro, background_loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def run_sync(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` to completion and return its result, from any synchronous context."""
    if in_running_loop():
        return run_on_background(coro, timeout=timeout)
    loop = _thread_loop()
    if timeout is not None:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    return loop.run_until_complete(coro)
