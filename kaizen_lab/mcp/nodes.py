"""``MCPToolNode``: a registered Kailash node that calls one MCP tool.

The node's config is JSON (server entry, tool name, timeout), so workflows serialise and export; put tokens in
the environment (``{"url": ..., "token_env": "MY_TOKEN"}``), never in the config. Calls go through the shared
connection pool, so a workflow run, notebook cells and agents reuse one long-lived session per server.
"""

from __future__ import annotations

from typing import Any

from kailash.nodes.base import Node, NodeParameter, register_node

from kaizen_lab.errors import MCPError, UserError

__all__ = ["MCPToolNode"]


@register_node()
class MCPToolNode(Node):
    """Call ``tool`` on ``server`` with ``arguments``; outputs ``result`` (the value), ``text`` and ``structured``.

    A tool that reports an error fails the node with ``MCPError`` (a workflow should not go on with it).
    """

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {
            "server": NodeParameter(name="server", type=Any, required=True,
                                    description="MCP server: command, URL or config entry {command|url ...}"),
            "tool": NodeParameter(name="tool", type=str, required=True, description="tool name"),
            "arguments": NodeParameter(name="arguments", type=dict, required=False, default={},
                                       description="tool arguments"),
            "timeout": NodeParameter(name="timeout", type=float, required=False, default=60.0,
                                     description="seconds for the call"),
        }

    def run(self, **kwargs: Any) -> dict[str, Any]:
        from kaizen_lab.mcp._bridge import get_connection
        from kaizen_lab.mcp.client import server_spec

        tool = kwargs.get("tool")
        if not tool:
            raise UserError("MCPToolNode needs tool= (the MCP tool's name)")
        spec = server_spec(kwargs["server"])
        timeout = float(kwargs.get("timeout") or 60.0)
        conn = get_connection(spec, call_timeout=timeout)
        result = conn.call_tool(str(tool), dict(kwargs.get("arguments") or {}), timeout=timeout)
        if result.is_error:
            raise MCPError(f"tool {tool!r} on MCP server {conn.name!r} failed: {result.text}", server=conn.name,
                           tool=str(tool))
        return {"result": result.value, "text": result.text, "structured": result.structured,
                "duration_ms": result.duration_ms}
