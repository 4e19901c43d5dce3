"""A small MCP server (calculator + notes) built on the official SDK's ``MCPServer``.

Used by the test suite and the MCP notebook as a real stdio/HTTP server:

    python examples/mcp_servers/calc_notes.py            # stdio
    python examples/mcp_servers/calc_notes.py http 8765  # streamable HTTP on 127.0.0.1:8765/mcp

Besides the ordinary tools it has a few that exist to exercise clients: ``slow`` (sleeps), ``crash`` (the
process exits in the middle of the call) and ``enable_power`` (adds a tool and announces the list change).
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("calc-notes", instructions="Arithmetic and a tiny note store.", log_level="WARNING")
_notes: dict[str, str] = {}


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
def save_note(title: str, text: str) -> str:
    """Save a note under a title."""
    _notes[title] = text
    return f"saved {title!r}"


@server.tool()
def list_notes() -> list[str]:
    """The titles of all saved notes."""
    return sorted(_notes)


@server.tool()
async def slow(seconds: float) -> str:
    """Wait for the given number of seconds, then answer."""
    await asyncio.sleep(seconds)
    return f"waited {seconds}s"


@server.tool()
def crash() -> str:
    """End the server process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


def power(base: float, exponent: float) -> float:
    """Raise base to a power."""
    return base**exponent


@server.tool()
async def enable_power(ctx: Context) -> str:
    """Add the ``power`` tool and tell listening clients that the tool list changed."""
    server.add_tool(power)
    await ctx.notify_tools_changed()
    try:  # clients on the handshake-era protocol get the classic notification instead
        await ctx.request_context.session.send_tool_list_changed()
    except Exception:  # noqa: BLE001 - modern sessions have no push channel outside listen streams
        pass
    return "power enabled"


@server.resource("notes://all")
def all_notes() -> str:
    """Every note as 'title: text' lines."""
    return "\n".join(f"{k}: {v}" for k, v in sorted(_notes.items()))


@server.prompt()
def explain(topic: str) -> str:
    """Ask for a short explanation of a topic."""
    return f"Explain {topic} in two sentences."


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        port = int(sys.argv[2]) if len(sys.argv) > 2 else 8765
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
