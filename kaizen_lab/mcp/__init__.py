"""MCP for kaizen-lab on the official ``mcp`` SDK (2.x): agents as servers, MCP tools for agents, discovery.

- ``expose`` / ``AgentMCPServer``: agents as MCP tools over stdio or streamable HTTP (bearer token by default).
- ``connect`` / ``MCPConnection``: long-lived sessions on the background loop, shared by cells, agents and
  Kailash nodes (``kaizen_lab.mcp.nodes.MCPToolNode``); cached tool lists, reconnects, timeouts, typed errors;
  ``conn.subscribe(uri)`` hears resource updates.
- ``MCPServiceDiscovery``: config files, ``kaizen-mcp.yaml``, the MCP registry API and local ports, ranked.
- ``summary()``: plain data about every live connection, for the notebook's MCP panel.

Nothing here imports the SDK until a server or connection is used.
"""

from __future__ import annotations

from typing import Any

from kaizen_lab.errors import MCPError
from kaizen_lab.mcp._agent import AgentMCP, enable_mcp_tools, mcp_namespace
from kaizen_lab.mcp._bridge import close_all, connections
from kaizen_lab.mcp._forms import pending_forms
from kaizen_lab.mcp._oauth import MCPOAuth
from kaizen_lab.mcp._requests import ClientPolicy
from kaizen_lab.mcp._serverside import ClientModel
from kaizen_lab.mcp._subscriptions import ResourceSubscription, ResourceUpdate
from kaizen_lab.mcp.client import (
    MCPConnection,
    MCPTimeoutError,
    MCPToolInfo,
    MCPToolResult,
    ServerSpec,
    connect,
    server_spec,
)
from kaizen_lab.mcp.content import MCPContent, MCPReadResult
from kaizen_lab.mcp.discovery import MCPService, MCPServiceDiscovery
from kaizen_lab.mcp.server import AgentMCPServer, MCPServerHandle, expose, load_agents


def summary(*, completions: bool = False) -> dict[str, Any]:
    """Every pooled connection as plain data: servers → tools with status, transport, latency, last error,
    input schemas and the agents using them (the shape the MCP panel renders). With ``completions=True`` each
    ready server is first asked for the completion values of its prompts' and templates' arguments."""
    if completions:
        for conn in connections():
            if conn.status == "ready":
                try:
                    conn.completion_catalog()
                except MCPError:
                    pass  # the panel still shows the server, with its last error
    return {"servers": [conn.info() for conn in connections()]}


__all__ = [
    # agents
    "AgentMCP", "enable_mcp_tools", "mcp_namespace",
    # client
    "ClientPolicy", "MCPConnection", "MCPContent", "MCPOAuth", "MCPReadResult", "MCPTimeoutError", "MCPToolInfo",
    "MCPToolResult", "ResourceSubscription", "ResourceUpdate", "ServerSpec", "close_all", "connect", "connections",
    "pending_forms", "server_spec", "summary",
    # server
    "AgentMCPServer", "ClientModel", "MCPServerHandle", "expose", "load_agents",
    # discovery
    "MCPService", "MCPServiceDiscovery",
]
