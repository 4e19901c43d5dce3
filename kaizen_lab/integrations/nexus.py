"""Deploy agents on three channels: the Nexus HTTP API, the ``kaizen-lab call`` CLI, and our MCP server.

``deploy_agent(agent)`` / ``create_multi_agent_service(agents)`` register each agent as a Nexus workflow (one
``KaizenAgentNode``), serve Nexus's FastAPI app under our own uvicorn on 127.0.0.1 (Nexus's ``start()`` binds
every interface and can't be stopped in-process), with request replay (``enable_durability``) off so identical
requests really run. Nexus's MCP channel is never enabled (it runs tools for unauthenticated callers): the MCP
channel is ``kaizen_lab.mcp``'s server. Every channel is closed by default: ``kaizen_lab.security`` decides who
may do what (see ``_gateway``), and when no credentials are configured an admin API key is created and shown
once on the deployment (``deployment.api_key``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kaizen_lab._cli_inputs import parse_input_pairs
from kaizen_lab.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigError,
    KaizenError,
    UserError,
    did_you_mean,
)

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent

__all__ = ["CHANNELS", "Deployment", "KaizenNexusIntegration", "SecurityWarning", "call_command",
           "create_multi_agent_service", "deploy_agent", "serve_command"]

CHANNELS = ("api", "cli", "mcp")
API_KEY_ENV = "KAIZEN_API_KEY"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Deployment:
    """Served agents: ``api_endpoint``, ``cli_command``, ``mcp_server``; ``stop()``; a context manager.

    Attributes:
        api_endpoint: base URL of the Nexus API (``POST {api_endpoint}/workflows/<agent>/execute``).
        cli_command: a command line that runs the first agent through the API.
        mcp_server: the MCP endpoint (``.url``), or ``None`` without the mcp channel.
        api_key: an admin API key created for this deployment when no credentials were configured.
        security: the ``KaizenSecurityManager`` guarding every channel.
        metrics: the Prometheus metrics served at ``/metrics``.
    """

    def __init__(self, agents: dict[str, Agent], channels: tuple[str, ...], security: Any, metrics: Any) -> None:
        self.agents = agents
        self.channels = channels
        self.security = security
        self.metrics = metrics
        self.api_key: str | None = None
        self.nexus: Any = None
        self._api: Any = None
        self.mcp_server: Any = None
        self.stores: list[Any] = []
        #: the ``ProductionMonitoring`` evaluating alert rules over ``metrics`` (``None`` when turned off)
        self.monitoring: Any = None

    @property
    def api_endpoint(self) -> str | None:
        return self._api.url if self._api is not None else None

    @property
    def cli_command(self) -> str | None:
        if "cli" not in self.channels or self.api_endpoint is None:
            return None
        agent = next(iter(self.agents.values()))
        example = " ".join(f"--input {name}=..." for name in agent.signature.input_names)
        return f"kaizen-lab call {self.api_endpoint} {agent.agent_id} {example} (credentials: ${API_KEY_ENV})"

    def url_for(self, agent_id: str) -> str:
        """The execute URL of one agent."""
        if agent_id not in self.agents:
            raise UserError(f"no agent {agent_id!r} in this deployment{did_you_mean(agent_id, self.agents)}")
        return f"{self.api_endpoint}/workflows/{agent_id}/execute"

    @property
    def running(self) -> bool:
        return self._api is not None and self._api.running

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """(ready, checks): the security manager is set up and each persistence store answers a query."""
        checks: dict[str, Any] = {"auth": {"ok": self.security is not None, "reason": "every channel authenticates"}}
        for store in self.stores:
            ok, reason = store.ping()
            checks[f"store:{store.backend}"] = {"ok": ok, "reason": reason}
        return all(c["ok"] for c in checks.values()), checks

    def stop(self) -> None:
        """Stop every channel and the alert evaluation (idempotent)."""
        if self.monitoring is not None:
            self.monitoring.stop()
        if self.mcp_server is not None:
            self.mcp_server.stop()
        if self._api is not None:
            self._api.stop()
        if self.nexus is not None:
            import contextlib

            with contextlib.suppress(Exception):
                self.nexus.stop()
            self.nexus = None

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        rows = [("agents", ", ".join(sorted(self.agents))), ("API", self.api_endpoint or "off"),
                ("OpenAPI", f"{self.api_endpoint}/openapi.json" if self.api_endpoint else "off"),
                ("CLI", self.cli_command or "off"), ("MCP", self.mcp_server.url if self.mcp_server else "off"),
                ("auth", "API key / JWT, RBAC " + ("on" if self.security.rbac_enabled else "off")
                 + (" (admin key: deployment.api_key)" if self.api_key else ""))]
        body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td><code>{html.escape(str(v))}</code></td></tr>"
                       for k, v in rows)
        return {"text/plain": repr(self), "text/html": f"<div><b>Deployment</b><table>{body}</table></div>"}

    def __repr__(self) -> str:
        where = self.api_endpoint or (self.mcp_server.url if self.mcp_server is not None else "-")
        return (f"Deployment(agents={sorted(self.agents)}, channels={list(self.channels)}, {where}, "
                f"{'running' if self.running or self.mcp_server is not None else 'stopped'})")


class _MCPChannel:
    def __init__(self, served: Any) -> None:
        self._served = served

    @property
    def url(self) -> str:
        return f"{self._served.url}/mcp"

    def stop(self) -> None:
        self._served.stop()

    def __repr__(self) -> str:
        return f"MCPChannel({self.url!r})"


def _security(auth: Any, agents: Sequence[Agent]) -> Any:
    from kaizen_lab.security import KaizenSecurityManager

    if auth is False:
        raise UserError("deployments always authenticate; pass auth=KaizenSecurityManager(...) or a security "
                        "config dict, or leave auth=None to get an admin API key")
    if isinstance(auth, KaizenSecurityManager):
        return auth
    if auth is None:
        config = getattr(agents[0], "config", None)
        return KaizenSecurityManager(getattr(config, "security", None))
    return KaizenSecurityManager(auth)


class SecurityWarning(UserWarning):
    """A deployment runs with a weaker setting than it should."""


def _warn_without_roles() -> None:
    import logging
    import warnings

    message = ("this deployment runs WITHOUT role-based access control: every authenticated caller may run every "
               "agent and reach the admin routes. Give keys and users roles (create_api_key(..., "
               "roles=['operator'])) or set security.rbac_enabled: true")
    warnings.warn(message, SecurityWarning, stacklevel=3)
    logging.getLogger("kaizen_lab.security").warning(message)


def _workflow(agent: Agent) -> Any:
    from kailash.workflow.builder import WorkflowBuilder

    from kaizen_lab.runtime.nodes import agent_config

    builder = WorkflowBuilder()
    builder.add_node("KaizenAgentNode", "agent", agent_config(agent))
    return builder.build()


def _openapi(base: dict[str, Any], agents: dict[str, Agent]) -> dict[str, Any]:
    schema = json.loads(json.dumps(base))
    schema["info"] = {**schema.get("info", {}), "title": "kaizen-lab agents",
                      "description": "Agents served by kaizen-lab. Authenticate with 'Authorization: Bearer "
                                     "<JWT or API key>' or 'X-API-Key'."}
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update({
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}})
    schemas = components.setdefault("schemas", {})
    error = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
    for agent_id, agent in agents.items():
        sig = agent.signature
        schemas[f"{agent_id}_inputs"] = sig.input_schema()
        schemas[f"{agent_id}_outputs"] = sig.output_schema()
        request = {"type": "object", "required": ["inputs"], "additionalProperties": False,
                   "properties": {"inputs": {"$ref": f"#/components/schemas/{agent_id}_inputs"},
                                  "session": {"type": "string", "description": "conversation id (memory)"}}}
        response = {"type": "object", "properties": {"outputs": {"type": "object", "properties": {
            "agent": {"$ref": f"#/components/schemas/{agent_id}_outputs"}}}}}
        schema.setdefault("paths", {})[f"/workflows/{agent_id}/execute"] = {"post": {
            "summary": f"Run the agent {agent_id!r}: {sig}", "operationId": f"execute_{agent_id}",
            "security": [{"bearer": []}, {"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
            "responses": {"200": {"description": "the agent's outputs",
                                  "content": {"application/json": {"schema": response}}},
                          "401": error, "403": error, "422": error}}}
    paths = schema.setdefault("paths", {})
    paths["/health"] = {"get": {"summary": "liveness probe (no credentials; agent ids only with them)",
                                "responses": {"200": error}}}
    paths["/ready"] = {"get": {"summary": "readiness probe: stores answer (checks only with credentials)",
                               "responses": {"200": error, "503": error}}}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "responses": {"200": error, "401": error}}}
    return schema


def create_multi_agent_service(agents: Iterable[Agent], channels: Sequence[str] = CHANNELS, *,
                               host: str = "127.0.0.1", port: int | None = None, mcp_port: int | None = None,
                               auth: Any = None, persistence: Any = None, monitoring: Any = None,
                               nexus: Any = None) -> Deployment:
    """Serve several agents on the chosen channels; returns a running ``Deployment``.

    Args:
        agents: the agents; each is one Nexus workflow and one MCP tool, named by its ``agent_id``.
        channels: any of ``"api"``, ``"cli"`` (an HTTP client of the API) and ``"mcp"``.
        host: bind address (loopback by default).
        port / mcp_port: ports for the API and MCP servers (``None``: free ones).
        auth: a ``KaizenSecurityManager``, a security config dict, or ``None`` for the agents' configured
            security plus a generated admin API key when no key exists.
        persistence: a store URL (or ``True`` for the default store) to keep memory and execution records.
        monitoring: alerting over the deployment's metrics (``/alerts``): ``None`` follows
            ``monitoring.enabled`` of the agents' configuration, ``False`` turns it off, a config (dict,
            ``KaizenConfig``, file) sets the rules, thresholds and webhooks.
        nexus: a ``nexus.Nexus`` to register the agents on for the API channel (default: a new one); it must
            be made with ``enable_durability=False`` (else identical requests replay an old answer). It is
            served on ``host``/``port`` through the security gate; don't ``start()`` it yourself.

    Raises:
        ConfigError: an unknown channel, ``cli`` without ``api``, or a port that is taken.
    """
    agent_list = list(agents)
    if not agent_list:
        raise UserError("a service needs at least one agent")
    by_id: dict[str, Agent] = {}
    for agent in agent_list:
        if agent.agent_id in by_id and by_id[agent.agent_id] is not agent:
            raise UserError(f"two agents are named {agent.agent_id!r}; agent ids must be unique in a service")
        by_id[agent.agent_id] = agent
    chosen = tuple(dict.fromkeys(channels))
    for channel in chosen:
        if channel not in CHANNELS:
            raise ConfigError(f"unknown channel {channel!r}{did_you_mean(channel, CHANNELS)}; channels are "
                              f"{list(CHANNELS)}", path="channels", value=channel)
    if "cli" in chosen and "api" not in chosen:
        raise ConfigError("the cli channel calls the API: add 'api' to channels", path="channels")
    from kaizen_lab.integrations._gateway import DeploymentMetrics

    security = _security(auth, agent_list)
    deployment = Deployment(by_id, chosen, security, DeploymentMetrics())
    if len(security.api_keys) == 0:
        deployment.api_key = security.create_api_key("deployment-admin", roles=["admin"], name="deployment")
    if not security.rbac_enabled:
        _warn_without_roles()
    if persistence:
        from kaizen_lab.integrations.dataflow import enable_persistence

        for agent in agent_list:
            # session=None: callers of a service never share a conversation unless they name one
            store = enable_persistence(agent, None if persistence is True else persistence, session=None)
            if store not in deployment.stores:
                deployment.stores.append(store)
    for agent_id in by_id:
        for channel in ("api", "mcp"):
            deployment.metrics.prepare(agent_id, channel)
    try:
        deployment.monitoring = _monitoring(monitoring, agent_list, deployment)
        if "api" in chosen:
            _start_api(deployment, host, port, nexus)
        if "mcp" in chosen:
            _start_mcp(deployment, host, mcp_port)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def _monitoring(option: Any, agents: Sequence[Agent], deployment: Deployment) -> Any:
    if option is False:
        return None
    config = option if option not in (None, True) else next(
        (a.config for a in agents if getattr(a, "config", None) is not None), None)
    from kaizen_lab.monitoring import ProductionMonitoring

    monitoring = ProductionMonitoring(config, deployment=deployment)
    if not monitoring.config.monitoring.enabled:
        return None
    return monitoring.setup_production_monitoring()


def deploy_agent(agent: Agent, channels: Sequence[str] = CHANNELS, **options: Any) -> Deployment:
    """Serve one agent; see ``create_multi_agent_service`` for the options."""
    return create_multi_agent_service([agent], channels, **options)


def _start_api(deployment: Deployment, host: str, port: int | None, nexus: Any = None) -> None:
    import logging

    from kaizen_lab.integrations._gateway import ApiGate
    from kaizen_lab.integrations._serve import ServedApp
    from kaizen_lab.security.limits import LimitsMiddleware

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        from nexus import Nexus
    except ImportError as exc:
        raise ConfigError(f'the API channel needs: pip install "kaizen-lab[nexus]" ({exc})') from None
    finally:
        # importing nexus calls logging.basicConfig(INFO): keep the host application's (or notebook's) logging
        root.handlers[:], root.level = saved[0], saved[1]
    for name in ("nexus", "kailash.servers", "kailash.api", "kailash.utils.server_auth", "kailash.runtime",
                 "kailash.workflow", "kailash.middleware"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _drop_untrue_warnings()
    # api_port is only a label here (start(blocking=False) binds nothing); auto_discovery off: no file scans
    if nexus is not None and getattr(nexus, "_enable_durability", False):
        raise ConfigError("this Nexus replays identical requests (durability is on): create it with "
                          "Nexus(enable_durability=False) so every request runs the agent", path="nexus")
    app = nexus if nexus is not None else Nexus(api_port=port or 8000, enable_durability=False, rate_limit=None,
                                                auto_discovery=False, enable_monitoring=False)
    for agent_id, agent in deployment.agents.items():
        app.register(agent_id, _workflow(agent))
    app.start(blocking=False)
    deployment.nexus = app
    fastapi_app = app.fastapi_app
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "schema" not in cached:
            cached["schema"] = _openapi(fastapi_app.openapi(), deployment.agents)
        return cached["schema"]

    gate = ApiGate(fastapi_app, deployment.security, deployment.metrics, deployment.agents,
                   ready=deployment.ready, openapi=openapi,
                   alerts=deployment.monitoring.alert_manager if deployment.monitoring is not None else None)
    deployment._api = ServedApp(LimitsMiddleware(gate), host=host, port=port, name="api").start()


#: (logger, message start) of Kailash/Nexus start-up messages that are untrue or unactionable for a deployment:
#: auth IS on (our gate authenticates every request before Nexus sees it), the rate limit and the SecretManager
#: are Nexus settings ``serve`` does not use, and our MCP channel replaces Nexus's.
_UNTRUE_WARNINGS = (
    ("nexus.core", "⚠️  SECURITY WARNING: Rate limiting is DISABLED"),
    ("nexus.core", "Core SDK MCP not available"),
    ("kailash.utils.server_auth", "server_auth.disabled"),
    ("kailash.gateway.security", "Secret encryption is NOT configured"),
)


class _DropUntrue:
    """A logging filter removing exactly the messages of ``_UNTRUE_WARNINGS`` (everything else passes)."""

    def __init__(self, starts: tuple[str, ...]) -> None:
        self.starts = starts

    def filter(self, record: Any) -> bool:
        return not str(record.msg).startswith(self.starts)


def _drop_untrue_warnings() -> None:
    import logging

    by_logger: dict[str, tuple[str, ...]] = {}
    for name, start in _UNTRUE_WARNINGS:
        by_logger[name] = (*by_logger.get(name, ()), start)
    for name, starts in by_logger.items():
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropUntrue) for f in log.filters):
            log.addFilter(_DropUntrue(starts))


def _start_mcp(deployment: Deployment, host: str, port: int | None) -> None:
    from kaizen_lab.integrations._gateway import MCPGate
    from kaizen_lab.integrations._serve import ServedApp
    from kaizen_lab.mcp.server import AgentMCPServer, tool_name_for
    from kaizen_lab.security.limits import LimitsMiddleware

    server = AgentMCPServer(list(deployment.agents.values()), name="kaizen-lab")
    app = server.build().streamable_http_app(host=host)
    tools = {tool_name_for(a): a.agent_id for a in deployment.agents.values()}
    gate = MCPGate(app, deployment.security, deployment.metrics, tools)
    deployment.mcp_server = _MCPChannel(ServedApp(LimitsMiddleware(gate, jsonrpc=True), host=host, port=port,
                                                  name="mcp").start())


# ------------------------------------------------------------------------------------------------ CLI


def call_agent(url: str, agent_id: str, inputs: dict[str, Any], *, credential: str | None,
               session: str | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """POST to a deployment's API and return the agent's outputs; typed errors for 401/403/422."""
    import httpx

    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    body: dict[str, Any] = {"inputs": inputs}
    if session:
        body["session"] = session
    try:
        response = httpx.post(f"{url.rstrip('/')}/workflows/{agent_id}/execute", json=body, headers=headers,
                              timeout=timeout)
    except httpx.HTTPError as exc:
        raise KaizenError(f"can't reach {url}: {exc}; is the deployment running?") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {"detail": response.text}
    detail = payload.get("detail") if isinstance(payload, dict) else payload
    if response.status_code == 401:
        raise AuthenticationError(f"401 Unauthorized: {detail}; set ${API_KEY_ENV} or pass --api-key")
    if response.status_code == 403:
        raise AuthorizationError(f"403 Forbidden: {detail}")
    if response.status_code == 422:
        item: dict[str, Any] = detail[0] if isinstance(detail, list) and detail else {"msg": detail, "loc": []}
        where = ".".join(str(part) for part in item.get("loc") or [])
        raise UserError(f"422 invalid request at {where}: {item.get('msg')}")
    if response.status_code == 404:
        raise UserError(f"404: no agent {agent_id!r} at {url}")
    if response.status_code != 200:
        raise KaizenError(f"{response.status_code} from {url}: {detail}")
    outputs = dict(payload["outputs"]["agent"])
    outputs.pop("kaizen", None)
    return outputs


def call_command(argv: Sequence[str]) -> int:
    """``kaizen-lab call URL AGENT --input name=value ... [--api-key KEY] [--session S]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab call", description="Run a deployed agent through its API.")
    parser.add_argument("url", help="the deployment's API endpoint, e.g. http://127.0.0.1:8000")
    parser.add_argument("agent", help="the agent id")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                        help="an input (repeatable); values are JSON when they parse, else text")
    parser.add_argument("--api-key", default=None, help=f"API key or JWT (default: ${API_KEY_ENV})")
    parser.add_argument("--session", default=None, help="conversation id")
    args = parser.parse_args(argv)
    credential = args.api_key or os.environ.get(API_KEY_ENV)
    outputs = call_agent(args.url, args.agent, parse_input_pairs(args.input), credential=credential,
                         session=args.session)
    print(json.dumps(outputs, ensure_ascii=False, indent=2))
    return 0


def _load_targets(target: str) -> list[Any]:
    """Agents from ``module:attr``, ``file.py:attr`` or an export folder (``kaizen-lab export ... -o OUT``)."""
    from pathlib import Path

    if Path(target).is_dir():
        from kaizen_lab.export.run import load_export

        module = load_export(target)
        agent = getattr(module, "agent", None)
        if agent is None:
            raise ConfigError(f"the export {target!r} defines no 'agent'; re-export the notebook", path="targets")
        return [agent]
    from kaizen_lab.mcp.server import load_agents

    return load_agents(target)


def _mcp_port(port: int, mcp_port: int | None) -> int | None:
    """The MCP port to bind (``None``: a free one); ``--port 0`` alone means free ports for both channels."""
    if mcp_port is None:
        return None if port == 0 else 8765
    return mcp_port or None


def serve_command(argv: Sequence[str]) -> int:
    """``kaizen-lab serve module:agent [...] [--channels api,mcp] [--host] [--port] [--mcp-port]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab serve",
                                     description="Serve agents on the API (Nexus) and MCP channels.")
    parser.add_argument("targets", nargs="+", metavar="module:agent",
                        help="agents: module:attr, path/to/file.py:attr, or an exported workflow folder")
    parser.add_argument("--channels", default="api,cli,mcp", help="comma-separated: api, cli, mcp")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (0: a free one)")
    parser.add_argument("--mcp-port", type=int, default=None,
                        help="MCP port (0: a free one; default 8765, or a free one with --port 0)")
    parser.add_argument("--persistence", default=None, help="store URL for memory and execution records "
                                                            "('default' for .kaizen/dataflow.db)")
    parser.add_argument("--config", default=None,
                        help="a kaizen-lab YAML/JSON config (security settings, monitoring rules and webhooks)")
    parser.add_argument("--no-monitoring", action="store_true", help="do not evaluate alert rules (/alerts off)")
    args = parser.parse_args(argv)
    agents = [a for target in args.targets for a in _load_targets(target)]
    from kaizen_lab.models.local import warm_local_models

    started = time.perf_counter()
    warmed = warm_local_models(agents)  # the embedded model loads now, not on the first request
    if warmed:
        print(f"embedded model loaded and warmed for {warmed} in {time.perf_counter() - started:.1f} s",
              file=sys.stderr, flush=True)
    auth = None
    monitoring: Any = False if args.no_monitoring else None
    if args.config:
        from kaizen_lab.config import load_config

        loaded = load_config(args.config)
        auth = loaded.security
        if monitoring is None:
            monitoring = loaded
    if args.host not in _LOOPBACK:
        print(f"warning: serving on {args.host}: reachable from the network (authentication stays on)",
              file=sys.stderr)
    persistence = True if args.persistence == "default" else args.persistence
    deployment = create_multi_agent_service(agents, [c.strip() for c in args.channels.split(",") if c.strip()],
                                            host=args.host, port=args.port or None,
                                            mcp_port=_mcp_port(args.port, args.mcp_port), auth=auth,
                                            persistence=persistence, monitoring=monitoring)
    print(json.dumps({"api_endpoint": deployment.api_endpoint, "cli_command": deployment.cli_command,
                      "mcp_server": deployment.mcp_server.url if deployment.mcp_server else None,
                      "agents": sorted(deployment.agents)}), flush=True)
    if deployment.api_key:  # a key we made up must be shown once, or nobody could call the agents
        print(f"admin API key (shown once): {deployment.api_key}", file=sys.stderr, flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
    return 0


# ------------------------------------------------------------------------------------------------ roadmap


class KaizenNexusIntegration:
    """The roadmap's ``KaizenNexusIntegration(kaizen, nexus)``: deploy agents on the API, CLI and MCP channels.

    Args:
        kaizen: a ``Kaizen`` (agent ids resolve through it; its security configuration guards the channels).
        nexus: a ``nexus.Nexus`` made with ``enable_durability=False`` for the API channel, or ``None`` for a
            new one per deployment.
    """

    def __init__(self, kaizen: Any = None, nexus: Any = None) -> None:
        self.kaizen = kaizen
        self.nexus = nexus

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.nexus is not None:
            options.setdefault("nexus", self.nexus)
        if self.kaizen is not None:
            options.setdefault("auth", self.kaizen.config.security)
        return options

    def _agents(self, agents: Iterable[Any]) -> list[Any]:
        return [self.kaizen.get_agent(a) if isinstance(a, str) and self.kaizen is not None else a for a in agents]

    def deploy_agent(self, agent: Any, channels: Sequence[str] = CHANNELS, **options: Any) -> Deployment:
        """Serve one agent (or its id); returns the running ``Deployment``."""
        return create_multi_agent_service(self._agents([agent]), channels, **self._options(options))

    def create_multi_agent_service(self, agents: Iterable[Any], channels: Sequence[str] = CHANNELS,
                                   **options: Any) -> Deployment:
        """Serve several agents as one service; returns the running ``Deployment``."""
        return create_multi_agent_service(self._agents(agents), channels, **self._options(options))
