"""Finding MCP servers: config files, a project file, the MCP registry API and (opt-in) local ports.

Sources, all optional and combined:
- client config files: ``{"mcpServers": {...}}`` (Claude Desktop, Cursor) and ``{"servers": {...}}`` (VS Code
  ``.vscode/mcp.json``, also nested as ``{"mcp": {"servers": ...}}`` in settings);
- the project file ``kaizen-mcp.yaml`` (``servers:``, optional ``registry_url:`` and ``policy:``);
- a registry speaking the official MCP registry API (``GET /v0/servers``, cursor-paged);
- a scan of 127.0.0.1 ports for streamable HTTP servers at ``/mcp`` (only when asked for).

Candidates pass the policy (allow/deny name patterns, transports, auth required), are probed (connect, list
tools, latency), scored against the wanted capabilities (name, description, tool names and descriptions,
input-schema properties) and ranked by match, then health, then latency; at most ``max_services`` remain.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaizen_lab.errors import ConfigError, MCPError, UserError
from kaizen_lab.mcp.client import MCPConnection, MCPToolInfo, ServerSpec, server_spec

__all__ = ["AdvancedMCPDiscovery", "MCPService", "MCPServiceDiscovery", "parse_config", "registry_entries"]

PROJECT_FILE = "kaizen-mcp.yaml"


@dataclass
class MCPService:
    """One candidate server and what discovery learned about it."""

    name: str
    spec: ServerSpec
    source: str
    description: str = ""
    auth_required: bool = False
    tags: tuple[str, ...] = ()
    tools: list[MCPToolInfo] = field(default_factory=list)
    healthy: bool | None = None
    latency_ms: float | None = None
    last_error: str | None = None
    score: float = 0.0
    matched: list[str] = field(default_factory=list)

    @property
    def transport(self) -> str:
        return self.spec.transport

    def to_dict(self) -> dict[str, Any]:
        """Plain data (no secrets) for panels and logs."""
        return {"name": self.name, "source": self.source, "transport": self.transport, "target": self.spec.target,
                "description": self.description, "auth_required": self.auth_required, "healthy": self.healthy,
                "latency_ms": self.latency_ms, "last_error": self.last_error, "score": self.score,
                "matched": list(self.matched), "tools": [t.to_dict() for t in self.tools]}


# -- sources ---------------------------------------------------------------------------------------------------
def parse_config(data: Mapping[str, Any], source: str = "config") -> list[MCPService]:
    """Services from a client config dict (``mcpServers``, ``servers`` or ``mcp.servers``)."""
    servers = data.get("mcpServers")
    if servers is None:
        servers = data.get("servers")
    if servers is None and isinstance(data.get("mcp"), Mapping):
        servers = data["mcp"].get("servers")
    if servers is None:
        raise ConfigError(f"{source} has no 'mcpServers' or 'servers' section; e.g. "
                          '{"mcpServers": {"time": {"command": "python", "args": ["-m", "mcp_server_time"]}}}',
                          path=source)
    if not isinstance(servers, Mapping):
        raise ConfigError(f"{source}: the servers section must map names to entries, got {type(servers).__name__}",
                          path=source)
    out = []
    for name, entry in servers.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: server {name!r} must be a mapping with 'command' or 'url'", path=str(name))
        if entry.get("disabled"):
            continue
        spec = server_spec(dict(entry), str(name))
        headers = {k.lower() for k in spec.headers}
        out.append(MCPService(str(name), spec, source, description=str(entry.get("description") or ""),
                              auth_required=bool(entry.get("auth_required")) or "authorization" in headers,
                              tags=tuple(str(t) for t in entry.get("tags") or ())))
    return out


def _read_config_file(path: Path) -> tuple[dict[str, Any], str]:
    if not path.exists():
        raise ConfigError(f"MCP config file {str(path)!r} does not exist", path=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            from kaizen_lab._yaml import load_yaml

            data = load_yaml(text, where=f"MCP config {str(path)!r}") or {}  # size/depth/alias limits
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"can't read MCP config {str(path)!r}: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"MCP config {str(path)!r} must hold a mapping at the top", path=str(path))
    return data, f"{path.name}"


def _argument_values(arguments: Iterable[Mapping[str, Any]]) -> list[str]:
    argv: list[str] = []
    for arg in arguments or ():
        value = arg.get("value", arg.get("default"))
        if arg.get("type") == "named" and arg.get("name"):
            argv.append(str(arg["name"]))
        if value is not None:
            argv.append(str(value))
    return argv


def registry_entries(payload: Mapping[str, Any], source: str = "registry") -> list[MCPService]:
    """Services from one ``GET /v0/servers`` page (``{"servers": [{"server": {...}, "_meta": ...}]}``)."""
    out = []
    for item in payload.get("servers") or ():
        server = item.get("server", item) if isinstance(item, Mapping) else None
        if not isinstance(server, Mapping) or not server.get("name"):
            continue
        meta = (item.get("_meta") or {}).get("io.modelcontextprotocol.registry/official", {})
        if meta.get("status") not in (None, "active"):
            continue
        name = str(server["name"])
        short = name.rsplit("/", 1)[-1]
        description = str(server.get("description") or "")
        for remote in server.get("remotes") or ():
            if remote.get("type") not in ("streamable-http", "http") or not remote.get("url"):
                continue
            required = any(h.get("isRequired") for h in remote.get("headers") or ())
            spec = ServerSpec(short, "http", url=str(remote["url"]))
            out.append(MCPService(short, spec, source, description, auth_required=required))
        for package in server.get("packages") or ():
            if (package.get("transport") or {}).get("type", "stdio") != "stdio":
                continue
            kind = package.get("registryType") or package.get("registry_type") or ""
            runtime = package.get("runtimeHint") or {"npm": "npx", "pypi": "uvx"}.get(kind)
            if not runtime or not package.get("identifier"):
                continue
            argv = [runtime, *_argument_values(package.get("runtimeArguments") or ())]
            # a python runtime names the module in its runtime arguments (-m pkg); npx/uvx take the package
            if not re.search(r"python[\d.]*(\.exe)?$", os.path.basename(runtime)):
                argv.append(str(package["identifier"]))
            argv += _argument_values(package.get("packageArguments") or ())
            env = {e["name"]: str(e["value"]) for e in package.get("environmentVariables") or ()
                   if e.get("name") and e.get("value") is not None}
            required = any(e.get("isRequired") and e.get("isSecret") for e in package.get("environmentVariables") or ())
            spec = server_spec({"command": argv[0], "args": argv[1:], "env": env or None}, short)
            out.append(MCPService(short, spec, source, description, auth_required=required))
    return out


# -- discovery -------------------------------------------------------------------------------------------------
class MCPServiceDiscovery:
    """Find, probe, filter and rank MCP servers for a set of capabilities.

    Args:
        config_files: client config files (Claude Desktop / Cursor / VS Code JSON, or YAML of the same shape).
        project_file: a ``kaizen-mcp.yaml``; by default the one in the current folder, if there is one.
        servers: extra entries ``{name: {command|url ...}}`` (e.g. ``KaizenConfig.mcp_integration.servers``).
        registry_url: base URL of an MCP registry (``/v0/servers`` is appended).
        scan_ports: ports on 127.0.0.1 to probe for HTTP servers at ``/mcp`` (empty: no scan).
        allow, deny: server-name patterns (``fnmatch``) to keep or drop.
        transports: transports to keep (``{"stdio", "http"}``).
        require_auth: keep only servers that authenticate their clients.
        max_services: how many ranked services ``discover`` returns.
        connect_timeout: seconds per probe.
    """

    def __init__(self, *, config_files: Sequence[str | Path] = (), project_file: str | Path | None = None,
                 servers: Mapping[str, Any] | None = None, registry_url: str | None = None,
                 scan_ports: Iterable[int] = (), allow: Sequence[str] = (), deny: Sequence[str] = (),
                 transports: Iterable[str] | None = None, require_auth: bool = False, max_services: int = 5,
                 connect_timeout: float = 10.0, registry_pages: int = 5) -> None:
        if max_services < 1:
            raise UserError(f"max_services must be at least 1, got {max_services}")
        self.config_files = [Path(p) for p in config_files]
        self.servers = dict(servers or {})
        self.registry_url = registry_url
        self.scan_ports = sorted(set(scan_ports))
        self.allow = list(allow)
        self.deny = list(deny)
        self.transports = set(transports) if transports is not None else None
        if self.transports is not None and not self.transports <= {"stdio", "http", "inprocess"}:
            raise ConfigError(f"unknown transports {sorted(self.transports - {'stdio', 'http', 'inprocess'})}; "
                              "use 'stdio' and/or 'http'", path="transports")
        self.require_auth = require_auth
        self.max_services = max_services
        self.connect_timeout = connect_timeout
        self.registry_pages = registry_pages
        self.project_file: Path | None = Path(project_file) if project_file else None
        if self.project_file is None and Path(PROJECT_FILE).exists():
            self.project_file = Path(PROJECT_FILE)
        self.services: list[MCPService] = []
        self._load_project_policy()

    @classmethod
    def from_config(cls, config: Any = None, **overrides: Any) -> MCPServiceDiscovery:
        """Discovery set up from ``KaizenConfig.mcp_integration`` (registry, scan, servers, max_services)."""
        mi = getattr(config, "mcp_integration", None)
        kwargs: dict[str, Any] = {}
        if mi is not None:
            kwargs = {"servers": dict(mi.servers), "max_services": mi.max_services,
                      "connect_timeout": mi.connect_timeout}
            if mi.use_registry and mi.registry_url:
                kwargs["registry_url"] = mi.registry_url
        kwargs.update(overrides)
        return cls(**kwargs)

    def _load_project_policy(self) -> None:
        if self.project_file is None:
            return
        data, _ = _read_config_file(self.project_file)
        self._project = data
        policy = data.get("policy") or {}
        self.allow = self.allow or list(policy.get("allow") or ())
        self.deny = self.deny or list(policy.get("deny") or ())
        if self.transports is None and policy.get("transports"):
            self.transports = set(policy["transports"])
        self.require_auth = self.require_auth or bool(policy.get("require_auth"))
        if policy.get("max_services"):
            self.max_services = int(policy["max_services"])
        self.registry_url = self.registry_url or data.get("registry_url")

    # -- candidates ---------------------------------------------------------------------------------------------
    def candidates(self, capabilities: Sequence[str] = ()) -> list[MCPService]:
        """Every service the sources name, after the policy, before probing (no server is started)."""
        found: list[MCPService] = []
        if self.servers:
            found += parse_config({"servers": self.servers}, "kaizen config")
        for path in self.config_files:
            data, source = _read_config_file(path)
            found += parse_config(data, source)
        if self.project_file is not None and "servers" in self._project:
            found += parse_config({"servers": self._project["servers"]}, self.project_file.name)
        if self.registry_url:
            found += self._query_registry(capabilities)
        if self.scan_ports:
            found += _scan(self.scan_ports)
        unique: dict[tuple[Any, ...], MCPService] = {}
        for service in found:
            unique.setdefault(service.spec.key(), service)
        return [s for s in unique.values() if self._allowed(s)]

    def _allowed(self, service: MCPService) -> bool:
        name = service.name
        if self.allow and not any(fnmatch.fnmatch(name, p) for p in self.allow):
            return False
        if any(fnmatch.fnmatch(name, p) for p in self.deny):
            return False
        # require_auth is applied after probing: a probe is what tells whether a server wants a token
        return self.transports is None or service.transport in self.transports

    def _query_registry(self, capabilities: Sequence[str]) -> list[MCPService]:
        import httpx2 as httpx  # ships with the mcp SDK (httpx itself is an optional extra)

        base = str(self.registry_url).rstrip("/")
        searches: list[str | None] = [*capabilities] or [None]
        out: list[MCPService] = []
        with httpx.Client(timeout=self.connect_timeout) as http:
            for term in searches:
                cursor = None
                for _ in range(self.registry_pages):
                    params: dict[str, Any] = {"limit": 50}
                    if term:
                        params["search"] = term
                    if cursor:
                        params["cursor"] = cursor
                    try:
                        response = http.get(f"{base}/v0/servers", params=params)
                        response.raise_for_status()
                        payload = response.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        raise MCPError(f"the MCP registry at {base} failed: {type(exc).__name__}: {exc}; check "
                                       "registry_url", server="registry") from None
                    out += registry_entries(payload, f"registry {base}")
                    cursor = (payload.get("metadata") or {}).get("nextCursor")
                    if not cursor:
                        break
        return out

    # -- probing, scoring, ranking --------------------------------------------------------------------------------
    def probe(self, service: MCPService) -> MCPService:
        """Connect, list tools and time it; the service records health, latency and the last error."""
        conn = MCPConnection(service.spec, connect_timeout=self.connect_timeout, max_reconnects=0)
        t0 = time.perf_counter()
        try:
            service.tools = list(conn.list_tools())
            service.latency_ms = round((time.perf_counter() - t0) * 1000, 2)
            service.healthy = True
            service.last_error = None
        except MCPError as exc:
            service.healthy = False
            service.last_error = exc.message
            if "HTTP 401" in exc.message or "HTTP 403" in exc.message:
                service.auth_required = True
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a probe that can't close still reports what it saw
                pass
        return service

    def discover(self, capabilities: Sequence[str] | str = (), *, probe: bool = True) -> list[MCPService]:
        """Candidates matching ``capabilities``, probed and ranked best first (at most ``max_services``)."""
        caps = [capabilities] if isinstance(capabilities, str) else list(capabilities)
        services = self.candidates(caps)
        for service in services:
            if probe:
                self.probe(service)
            score_service(service, caps)
        if self.require_auth:
            services = [s for s in services if s.auth_required]
        ranked = [s for s in services if not caps or s.score > 0]
        ranked.sort(key=lambda s: (-s.score, s.healthy is False, s.latency_ms if s.latency_ms is not None else 1e9))
        self.services = ranked[: self.max_services]
        return self.services

    def summary(self) -> list[dict[str, Any]]:
        """The last ``discover`` result as plain data."""
        return [s.to_dict() for s in self.services]


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 1}


def score_service(service: MCPService, capabilities: Sequence[str]) -> float:
    """Match score: exact tool name 5, tool name or server name overlap 3, description 2, schema property 1.

    Health counts too: an unreachable server keeps a tenth of its match score, so it ranks last.
    """
    total = 0.0
    matched = []
    for cap in capabilities:
        want = _words(cap) or {cap.lower()}
        best = 0.0
        if want & _words(service.name) or cap.lower() in service.name.lower():
            best = max(best, 3.0)
        if want & (_words(service.description) | {t.lower() for t in service.tags}):
            best = max(best, 2.0)
        for tool in service.tools:
            if tool.name.lower() == cap.lower():
                best = max(best, 5.0)
            elif want & _words(tool.name):
                best = max(best, 3.0)
            elif want & _words(tool.description):
                best = max(best, 2.0)
            elif want & _words(" ".join(tool.input_schema.get("properties", {}))):
                best = max(best, 1.0)
        if best:
            matched.append(cap)
        total += best
    if service.healthy is False:
        total *= 0.1
    service.score = round(total, 3)
    service.matched = matched
    return service.score


def _scan(ports: Sequence[int], timeout: float = 0.2) -> list[MCPService]:
    """Open TCP ports on 127.0.0.1 among ``ports`` become HTTP candidates at ``/mcp`` (only the loopback)."""
    async def is_open(port: int) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    async def scan_all() -> list[int]:
        flags = await asyncio.gather(*(is_open(p) for p in ports))
        return [p for p, ok in zip(ports, flags, strict=True) if ok]

    from kaizen_lab._aio import run_sync

    open_ports = run_sync(scan_all())
    return [MCPService(f"127.0.0.1:{p}", ServerSpec(f"127.0.0.1:{p}", "http", url=f"http://127.0.0.1:{p}/mcp"),
                       "scan") for p in open_ports]


# -- the roadmap's spelling ------------------------------------------------------------------------------------
class AdvancedMCPDiscovery(MCPServiceDiscovery):
    """The roadmap's ``AdvancedMCPDiscovery(config).discover_by_capabilities(capabilities)``.

    Args:
        config: a ``KaizenConfig``, its ``MCPIntegrationConfig``, or ``None`` for the defaults: named
            ``servers``, the registry when ``use_registry`` and ``registry_url`` are set, ``max_services`` and
            ``connect_timeout``. ``scan_local`` needs the ports to probe in ``scan_ports=``.
        **options: any ``MCPServiceDiscovery`` option, winning over the config.
    """

    def __init__(self, config: Any = None, **options: Any) -> None:
        mi = getattr(config, "mcp_integration", config)
        kwargs: dict[str, Any] = {}
        if mi is not None:
            kwargs = {"servers": dict(mi.servers), "max_services": mi.max_services,
                      "connect_timeout": mi.connect_timeout}
            if mi.use_registry:
                if not mi.registry_url:
                    raise ConfigError("mcp_integration.use_registry is on but registry_url is empty; set the "
                                      "registry's base URL", path="mcp_integration.registry_url")
                kwargs["registry_url"] = mi.registry_url
            if mi.scan_local and not options.get("scan_ports"):
                raise ConfigError("mcp_integration.scan_local needs the ports to probe: "
                                  "AdvancedMCPDiscovery(config, scan_ports=[8000, 8001])",
                                  path="mcp_integration.scan_local")
        kwargs.update(options)
        super().__init__(**kwargs)

    def discover_by_capabilities(self, capabilities: Sequence[str] | str, *, probe: bool = True
                                 ) -> list[MCPService]:
        """Services offering ``capabilities``, probed and ranked best first (``discover``)."""
        return self.discover(capabilities, probe=probe)
