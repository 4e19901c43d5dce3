"""An agent's MCP side: connected servers, their tools bound into the agent's tool loop, ``agent.mcp_<tool>``.

Tools are added to ``agent.tools`` as ``Tool(..., source="mcp")`` so the model sees them like any function
tool. When a server announces that its tool list changed, the binding is refreshed on the background loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kaizen_lab.errors import MCPError, did_you_mean
from kaizen_lab.mcp._bridge import get_connection
from kaizen_lab.mcp.client import MCPConnection, MCPToolInfo, server_spec

__all__ = ["AgentMCP", "mcp_namespace"]


def _split_servers(servers: Any) -> list[tuple[Any, str | None]]:
    """Normalise the accepted shapes to ``[(server, name)]``."""
    if isinstance(servers, Mapping):
        if "mcpServers" in servers or "servers" in servers:
            servers = servers.get("mcpServers") or servers.get("servers") or {}
        if "command" in servers or "url" in servers:  # one config entry
            return [(dict(servers), None)]
        return [(entry, str(name)) for name, entry in servers.items()]
    if isinstance(servers, str) or not isinstance(servers, Iterable):
        return [(servers, None)]
    return [(s, None) for s in servers]


class AgentMCP:
    """The MCP servers an agent uses (``agent.mcp``). ``agent.mcp.get_current_time(timezone="UTC")`` calls a tool."""

    def __init__(self, agent: Any) -> None:
        self._agent = agent
        self.connections: list[MCPConnection] = []
        self._bound: dict[str, tuple[MCPConnection, str]] = {}
        self._unlisten: list[Callable[[], None]] = []

    # -- connecting -----------------------------------------------------------------------------------------
    def connect(self, servers: Any, *, connect_timeout: float | None = None,
                call_timeout: float | None = None) -> list[MCPConnection]:
        """Connect to servers and offer their tools to the model; returns the connections."""
        options = self._options(connect_timeout, call_timeout)
        added = []
        named = self._configured_servers()
        for value, name in _split_servers(servers):
            if isinstance(value, str) and value in named:  # a server named in KaizenConfig.mcp_integration
                value, name = named[value], value
            spec = server_spec(value, name)
            conn = get_connection(spec, **options)
            conn.connect()
            self.attach(conn)
            added.append(conn)
        return added

    def _configured_servers(self) -> dict[str, Any]:
        cfg = getattr(getattr(self._agent, "config", None), "mcp_integration", None)
        return dict(getattr(cfg, "servers", None) or {})

    def _options(self, connect_timeout: float | None, call_timeout: float | None) -> dict[str, float]:
        cfg = getattr(getattr(self._agent, "config", None), "mcp_integration", None)
        options: dict[str, float] = {}
        if cfg is not None:
            options = {"connect_timeout": cfg.connect_timeout, "call_timeout": cfg.call_timeout}
        if connect_timeout is not None:
            options["connect_timeout"] = connect_timeout
        if call_timeout is not None:
            options["call_timeout"] = call_timeout
        return options

    def attach(self, conn: MCPConnection) -> None:
        """Bind an already connected ``MCPConnection``'s tools to this agent."""
        if conn not in self.connections:
            self.connections.append(conn)
            conn.users.add(self._agent.agent_id)
            self._unlisten.append(conn.add_listener(self._on_tools_changed))
        self._bind(conn, conn.list_tools())

    def _on_tools_changed(self, conn: MCPConnection) -> None:
        # runs on the background loop (inside the session's message handler): refresh without blocking it
        async def refresh() -> None:
            try:
                self._bind(conn, await conn.alist_tools())
            except MCPError:
                pass  # the server is gone; the next call reports it

        asyncio.get_running_loop().create_task(refresh())

    def _bind(self, conn: MCPConnection, tools: Iterable[MCPToolInfo]) -> None:
        from kaizen_lab.agents.tools import Tool

        toolset = self._agent.tools
        for bound, (owner, _) in list(self._bound.items()):
            if owner is conn:
                toolset.remove(bound)
                del self._bound[bound]
        for info in tools:
            bound = info.name
            taken = bound in toolset or bound in self._bound
            if taken:  # another server (or a Python tool) already has the name: prefix with the server
                bound = f"{conn.name}_{info.name}".replace(":", "_").replace(".", "_")
            self._bound[bound] = (conn, info.name)
            toolset.add(Tool(bound, info.description or info.name, info.input_schema, _caller(conn, info.name, self._agent),
                             "mcp"))

    def disconnect(self, server: str | MCPConnection | None = None) -> None:
        """Unbind one server's tools (or all); the shared connection stays open for its other users."""
        for conn in list(self.connections):
            if server is None or conn is server or conn.name == server:
                for bound, (owner, _) in list(self._bound.items()):
                    if owner is conn:
                        self._agent.tools.remove(bound)
                        del self._bound[bound]
                conn.users.discard(self._agent.agent_id)
                self.connections.remove(conn)

    # -- using ----------------------------------------------------------------------------------------------
    @property
    def tool_names(self) -> list[str]:
        return list(self._bound)

    def _resolve(self, name: str) -> tuple[MCPConnection, str]:
        try:
            return self._bound[name]
        except KeyError:
            raise AttributeError(f"no MCP tool {name!r}{did_you_mean(name, self._bound)}; connected tools: "
                                 f"{sorted(self._bound) or 'none (call agent.connect_to_mcp_servers first)'}") from None

    def call(self, name: str, /, timeout: float | None = None, **arguments: Any) -> Any:
        """Call a bound tool by name and return its value (``MCPError`` if the tool reports an error)."""
        conn, tool = self._resolve(name)
        return conn.call(tool, arguments, timeout=timeout)

    async def acall(self, name: str, /, timeout: float | None = None, **arguments: Any) -> Any:
        conn, tool = self._resolve(name)
        return await conn.acall(tool, arguments, timeout=timeout)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        conn, tool = self._resolve(name)

        def call(timeout: float | None = None, **arguments: Any) -> Any:
            return conn.call(tool, arguments, timeout=timeout)

        call.__name__ = f"mcp_{name}"
        call.__doc__ = next((t.description for t in conn.list_tools() if t.name == tool), None)
        return call

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._bound]

    def resources(self) -> dict[str, list[dict[str, Any]]]:
        """Each server's resources (servers without resources give an empty list)."""
        return {c.name: _or_empty(c.list_resources) for c in self.connections}

    def prompts(self) -> dict[str, list[dict[str, Any]]]:
        """Each server's prompts."""
        return {c.name: _or_empty(c.list_prompts) for c in self.connections}

    def summary(self) -> list[dict[str, Any]]:
        """Plain data per server: status, transport, latency, last error, tools and their schemas."""
        return [c.info() for c in self.connections]

    def __repr__(self) -> str:
        return f"<AgentMCP {self._agent.agent_id!r}: servers={[c.name for c in self.connections]}, " \
               f"tools={self.tool_names}>"


def _or_empty(fn: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return fn()
    except MCPError as exc:
        if "Method not found" in exc.message or "-32601" in exc.message:
            return []
        raise


def _caller(conn: MCPConnection, tool: str, agent: Any = None) -> Callable[[dict[str, Any]], Any]:
    async def call(arguments: dict[str, Any]) -> Any:
        result = await conn.acall_tool(tool, arguments, agent=agent)
        if result.is_error:
            raise MCPError(f"tool {tool!r} on MCP server {conn.name!r} failed: {result.text}", server=conn.name,
                           tool=tool)
        # images, audio, links and resources travel whole (even beside structured content, which would
        # flatten them to JSON text): the loop gives the model the images and the other items' text, and
        # records every item in the trace by type and size
        return result if result.has_media else result.value

    return call


def mcp_namespace(agent: Any) -> AgentMCP:
    """The agent's ``AgentMCP`` (created on first use and kept on the agent)."""
    ns = agent.__dict__.get("_mcp_namespace")
    if ns is None:
        ns = agent.__dict__["_mcp_namespace"] = AgentMCP(agent)
    return ns


def enable_mcp_tools(agent: Any, capabilities: Any, **policy: Any) -> list[Any]:
    """Discover servers offering ``capabilities`` (ranked, policy-filtered), connect and bind their tools.

    ``policy`` goes to ``MCPServiceDiscovery`` (``config_files``, ``registry_url``, ``scan_ports``, ``allow``,
    ``deny``, ``transports``, ``require_auth``, ``max_services`` ...). Returns the newly bound tools.
    """
    from kaizen_lab.mcp.discovery import MCPServiceDiscovery

    caps = [capabilities] if isinstance(capabilities, str) else list(capabilities)
    discovery = MCPServiceDiscovery.from_config(getattr(agent, "config", None), **policy)
    services = discovery.discover(caps)
    healthy = [s for s in services if s.healthy]
    if not healthy:
        looked = [f"{s.name} ({s.last_error})" if s.last_error else s.name for s in services]
        raise MCPError(f"no reachable MCP server offers {caps}; candidates: {looked or 'none'}; add servers to "
                       "kaizen-mcp.yaml, pass config_files=/registry_url=, or relax the policy")
    ns = mcp_namespace(agent)
    before = set(agent.tools.names())
    options = ns._options(None, None)
    for service in healthy:
        ns.attach(get_connection(service.spec, **options).connect())
    agent.__dict__["_mcp_discovery"] = discovery
    return [t for t in agent.tools if t.name not in before]
