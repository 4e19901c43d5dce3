"""MCP figures: the cached tool list, a tool call over stdio, and our overhead over the raw SDK client.

``mcp_list_tools_cached_us``: one sync ``MCPConnection.list_tools()`` served from the cache (goal ≤ 50 µs).
``mcp_call_tool_stdio_ms``: one sync ``MCPConnection.call_tool("add")`` on the example server over stdio
(our pooled session on the background loop). ``mcp_call_tool_stdio_raw_ms``: the same call with the SDK's
``Client`` awaited directly, on a second process of the same server. Samples alternate between the two so
load drift hits both alike; ``mcp_call_tool_ratio`` is ours / raw (goal ≤ 1.1). The sync call crosses to the
background loop and back (two thread wake-ups); ``mcp_call_tool_stdio_onloop_ms`` is the same call made by
code already on that loop (agents run from a notebook cell), which has no hop.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from benchmarks.run import median_seconds, repeats

SERVER = [sys.executable, str(Path(__file__).resolve().parent.parent / "examples" / "mcp_servers" / "calc_notes.py")]


async def _timed_on_loop(conn: object, i: int) -> float:
    t0 = time.perf_counter()
    await conn.acall_tool("add", {"a": i, "b": 2})  # type: ignore[attr-defined]
    return time.perf_counter() - t0


async def _alternate(conn: object, calls: int) -> tuple[list[float], list[float], list[float]]:
    """Samples of (our sync call, the raw SDK call, our call made on the background loop), interleaved."""
    from mcp import Client, StdioServerParameters

    from kaizen_lab._aio import background_loop

    loop = background_loop()
    ours: list[float] = []
    raw: list[float] = []
    on_loop: list[float] = []
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:])
    async with Client(params) as client:
        for _ in range(20):  # warm every path
            await client.call_tool("add", {"a": 1, "b": 2})
            conn.call_tool("add", {"a": 1, "b": 2})  # type: ignore[attr-defined]
        for i in range(calls):
            t0 = time.perf_counter()
            await client.call_tool("add", {"a": i, "b": 2})
            t1 = time.perf_counter()
            conn.call_tool("add", {"a": i, "b": 2})  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            raw.append(t1 - t0)
            ours.append(t2 - t1)
            on_loop.append(asyncio.run_coroutine_threadsafe(_timed_on_loop(conn, i), loop).result())
    return ours, raw, on_loop


def run() -> dict[str, float]:
    from kaizen_lab.mcp import close_all, connect

    conn = connect(SERVER, name="bench-calc")
    try:
        conn.list_tools()
        cached = median_seconds(conn.list_tools, repeats(50), inner=2000)
        ours, raw, on_loop = asyncio.run(_alternate(conn, repeats(300, minimum=30)))
    finally:
        close_all()
    ours_ms = statistics.median(ours) * 1000
    raw_ms = statistics.median(raw) * 1000
    return {
        "mcp_list_tools_cached_us": round(cached * 1e6, 3),
        "mcp_call_tool_stdio_ms": round(ours_ms, 3),
        "mcp_call_tool_stdio_raw_ms": round(raw_ms, 3),
        "mcp_call_tool_ratio": round(ours_ms / raw_ms, 3),
        "mcp_call_tool_stdio_onloop_ms": round(statistics.median(on_loop) * 1000, 3),
        "mcp_call_tool_onloop_ratio": round(statistics.median(on_loop) * 1000 / raw_ms, 3),
    }


if __name__ == "__main__":
    print(run())
