"""ASGI gates in front of the Nexus API and the MCP server: authentication, RBAC, input validation, metrics.

Nexus's own auth reads credentials from environment variables and its MCP transport ignores auth entirely, so
both channels are wrapped here instead, with ``kaizen_lab.security``: every request authenticates
(``Authorization: Bearer <JWT or API key>`` or ``X-API-Key``; 401 otherwise), then is authorized
(``execute`` on ``agent/<id>`` to run an agent, ``read`` on ``metrics`` or ``api/<path>`` to look; 403
otherwise). Nexus answers a missing input with a 500, so agent inputs are validated before Nexus sees them:
bad JSON, unknown fields and wrong types are 422s naming the field. Only ``/health`` and ``/ready`` are open,
as probes must be, and without credentials they answer a status only (no agent ids, no store details). Body
size, JSON depth and slow clients are limited in front of every route by ``security.limits``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.security.limits import MAX_BODY, BodyError, parse_json, read_body, replay

__all__ = ["ApiGate", "DeploymentMetrics", "MCPGate", "validate_body"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_EXECUTE = re.compile(r"^/workflows/([^/]+)(?:/execute)?/?$")
OPEN_PATHS = frozenset({"/health", "/ready"})


class DeploymentMetrics:
    """Prometheus metrics of one deployment, on a registry of its own (two deployments never mix)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.runs = Counter("kaizen_agent_runs", "Agent runs served", ["agent", "channel", "status"],
                            registry=self.registry)
        self.latency = Histogram("kaizen_agent_run_latency_seconds", "End-to-end latency of served runs",
                                 ["agent", "channel"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.tokens = Counter("kaizen_agent_tokens", "Model tokens used by served runs", ["agent", "direction"],
                              registry=self.registry)
        self.cost = Counter("kaizen_agent_cost_usd", "Model cost of served runs (USD)", ["agent"],
                            registry=self.registry)
        self.errors = Counter("kaizen_agent_errors", "Failed or refused agent requests", ["agent", "code"],
                              registry=self.registry)
        self.requests = Counter("kaizen_http_requests", "HTTP requests by channel and status code",
                                ["channel", "code"], registry=self.registry)
        # retries and timeouts come from the runs' events (Nexus answers every failure with the same 500)
        self.retries = Counter("kaizen_agent_retries", "Model retries inside runs", ["agent"],
                               registry=self.registry)
        self.timeouts = Counter("kaizen_agent_timeouts", "Runs that ended in a timeout", ["agent"],
                                registry=self.registry)

    def prepare(self, agent: str, channel: str) -> None:
        """Create an agent's series at zero, so a first error is an increase that rate() and increase() see."""
        for status in ("ok", "error"):
            self.runs.labels(agent, channel, status)
        for direction in ("input", "output"):
            self.tokens.labels(agent, direction)
        self.retries.labels(agent)
        self.timeouts.labels(agent)

    def observe_run(self, agent: str, channel: str, *, ok: bool, seconds: float) -> None:
        self.runs.labels(agent, channel, "ok" if ok else "error").inc()
        self.latency.labels(agent, channel).observe(seconds)

    def observe_usage(self, agent: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        self.tokens.labels(agent, "input").inc(input_tokens)
        self.tokens.labels(agent, "output").inc(output_tokens)
        if cost:
            self.cost.labels(agent).inc(float(cost))

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


# ----------------------------------------------------------------------------------------------- helpers


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}


async def _respond(send: Send, status: int, body: Any, *, content_type: str = "application/json",
                   headers: Mapping[str, str] | None = None) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Receive) -> bytes | None:
    try:
        return await read_body(receive)
    except BodyError:  # LimitsMiddleware in front answers these; a gate used without it still refuses
        return b"\x00too-large"


def _with_length(scope: Scope, body: bytes) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers") or () if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**scope, "headers": headers}


def _error(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


def validate_body(signature: Any, raw: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(forwardable inputs and session, None) or (None, a FastAPI-style 422 body naming the field)."""
    body, invalid = parse_json(raw or b"null")
    if invalid is not None:
        return None, _error(["body"], f"{invalid}; send " '{"inputs": {...}}', "json_invalid")
    if not isinstance(body, dict):
        return None, _error(["body"], 'the body must be a JSON object like {"inputs": {...}}', "dict_type")
    for key in body:
        if key not in ("inputs", "session"):
            return None, _error(["body", key], f"unknown field {key!r}{did_you_mean(key, ['inputs', 'session'])};"
                                               " the body takes 'inputs' and optionally 'session'",
                                "extra_forbidden")
    inputs = body.get("inputs")
    if not isinstance(inputs, dict):
        what = "missing" if "inputs" not in body else f"got {type(inputs).__name__}"
        return None, _error(["body", "inputs"], f"'inputs' must be an object of the agent's inputs ({what})",
                            "missing" if "inputs" not in body else "dict_type")
    session = body.get("session")
    if session is not None and not isinstance(session, str):
        return None, _error(["body", "session"], "'session' must be a string", "string_type")
    names = list(signature.input_names)
    for key in inputs:
        if key not in names:
            return None, _error(["body", "inputs", key], f"unknown input {key!r}{did_you_mean(key, names)}; "
                                                         f"this agent takes {names}", "extra_forbidden")
    for f in signature.input_fields:
        if f.required and f.name not in inputs:
            return None, _error(["body", "inputs", f.name], f"missing input {f.name!r}; this agent takes {names}",
                                "missing")
    try:
        signature.validate_inputs(inputs)
    except UserError as exc:
        match = re.match(r"invalid input ([^:\s]+)", exc.message)
        field = match.group(1).split(".")[0] if match else "inputs"
        return None, _error(["body", "inputs", field], exc.message, "value_error")
    return {"inputs": inputs, "session": session}, None


class _Gate:
    """Shared authentication and authorization for the gates."""

    channel = "api"

    def __init__(self, app: Any, security: Any, metrics: DeploymentMetrics) -> None:
        self.app = app
        self.security = security
        self.metrics = metrics

    async def _authenticate(self, scope: Scope, send: Send) -> Any:
        client = (scope.get("client") or ("", 0))[0] or None
        result = await asyncio.to_thread(self.security.authenticate_headers, _headers(scope), client=client)
        if not result.ok:
            self.metrics.requests.labels(self.channel, "401").inc()
            await _respond(send, 401, {"detail": f"authentication required: {result.reason}"},
                           headers={"www-authenticate": 'Bearer realm="kaizen-lab"'})
            return None
        return result

    async def _authorize(self, user: Any, operation: str, resource: str, send: Send) -> bool:
        decision = await asyncio.to_thread(self.security.authorize_operation, user, operation, resource)
        if not decision.allowed:
            self.metrics.requests.labels(self.channel, "403").inc()
            await _respond(send, 403, {"detail": f"{decision.principal or 'anonymous'} may not {operation} "
                                                 f"{resource}: {decision.reason}"})
            return False
        return True


class ApiGate(_Gate):
    """The API channel: probes, metrics, OpenAPI, and validated agent execution in front of Nexus."""

    def __init__(self, app: Any, security: Any, metrics: DeploymentMetrics, agents: Mapping[str, Any], *,
                 ready: Callable[[], tuple[bool, dict[str, Any]]], openapi: Callable[[], dict[str, Any]],
                 alerts: Any = None) -> None:
        super().__init__(app, security, metrics)
        self.agents = dict(agents)
        self.ready = ready
        self.openapi = openapi
        self.alerts = alerts  # an AlertEvaluator, served at /alerts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # no websocket is offered; refuse before Nexus's handlers see it
            await send({"type": "websocket.close", "code": 1008})
            return
        path, method = scope["path"], scope["method"]
        if path in OPEN_PATHS:
            await self._probe(path, scope, send)
            return
        user = await self._authenticate(scope, send)
        if user is None:
            return
        if path == "/metrics":
            if await self._authorize(user, "read", "metrics", send):
                await _respond(send, 200, self.metrics.render(),
                               content_type="text/plain; version=0.0.4; charset=utf-8")
            return
        if path in ("/alerts", "/alerts/silences") and self.alerts is not None:
            await self._alerts(path, method, user, receive, send)
            return
        if path == "/openapi.json":
            if await self._authorize(user, "read", "api/openapi", send):
                await _respond(send, 200, self.openapi())
            return
        match = _EXECUTE.match(path)
        if method == "POST" and match and match.group(1) in self.agents:
            await self._execute(match.group(1), user, scope, receive, send)
            return
        operation = "read" if method in ("GET", "HEAD", "OPTIONS") else "admin"
        if await self._authorize(user, operation, "api" + path, send):
            await self.app(scope, receive, send)

    async def _probe(self, path: str, scope: Scope, send: Send) -> None:
        """Probes answer without credentials, but only with a status: agent ids and store checks are shown
        to callers allowed to ``read`` ``api/<probe>``."""
        headers = _headers(scope)
        user = None
        if headers.get("authorization") or headers.get("x-api-key"):
            client = (scope.get("client") or ("", 0))[0] or None
            auth = await asyncio.to_thread(self.security.authenticate_headers, headers, client=client)
            if auth.ok:
                decision = await asyncio.to_thread(self.security.authorize_operation, auth, "read", "api" + path)
                user = auth if decision.allowed else None
        if path == "/health":
            body: dict[str, Any] = {"status": "healthy"}
            if user is not None:
                body["agents"] = sorted(self.agents)
            await _respond(send, 200, body)
            return
        ok, checks = await asyncio.to_thread(self.ready)
        await _respond(send, 200 if ok else 503, {"ready": ok, **({"checks": checks} if user is not None else {})})

    async def _alerts(self, path: str, method: str, user: Any, receive: Receive, send: Send) -> None:
        """``GET /alerts``: current alerts, silences, rules, history. ``POST /alerts/silences``: add a silence."""
        if path == "/alerts" and method == "GET":
            if await self._authorize(user, "read", "alerts", send):
                await _respond(send, 200, self.alerts.to_dict())
            return
        if path != "/alerts/silences" or method != "POST":
            await _respond(send, 405, {"detail": "use GET /alerts or POST /alerts/silences"})
            return
        if not await self._authorize(user, "admin", "alerts", send):
            return
        raw = await _read_body(receive)
        if raw is None:
            return
        try:
            body: Any = json.loads(raw) if raw != b"\x00too-large" else None
            silence = self.alerts.silence(dict(body["matchers"]), float(body["duration_s"]),
                                          comment=str(body.get("comment", "")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError, UserError) as exc:
            await _respond(send, 422, _error(["body"], 'send {"matchers": {"alertname": "..."}, "duration_s": 3600, '
                                                       f'"comment": "..."}} ({exc})', "value_error"))
            return
        await _respond(send, 201, silence.to_dict())

    async def _execute(self, agent_id: str, user: Any, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._authorize(user, "execute", f"agent/{agent_id}", send):
            self.metrics.errors.labels(agent_id, "403").inc()
            return
        raw = await _read_body(receive)
        if raw is None:
            return
        if raw == b"\x00too-large":
            await _respond(send, 413, _error(["body"], f"the body is larger than {MAX_BODY} bytes", "too_large"))
            return
        agent = self.agents[agent_id]
        valid, problem = validate_body(agent.signature, raw)
        if problem is not None:
            self.metrics.errors.labels(agent_id, "422").inc()
            self.metrics.requests.labels(self.channel, "422").inc()
            await _respond(send, 422, problem)
            return
        assert valid is not None
        node_inputs = dict(valid["inputs"])
        if valid["session"]:
            node_inputs["kaizen_session"] = valid["session"]
        body = json.dumps({"inputs": {"agent": node_inputs}}).encode()
        started = time.perf_counter()
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers") or []
                return
            captured["body"].append(message.get("body", b""))
            if not message.get("more_body"):
                await self._finish(agent_id, user, captured, time.perf_counter() - started, send)

        await self.app(_with_length(scope, body), replay(body, receive), capture)

    async def _finish(self, agent_id: str, user: Any, captured: dict[str, Any], seconds: float, send: Send) -> None:
        status = int(captured["status"])
        data = b"".join(captured["body"])
        self.metrics.requests.labels(self.channel, str(status)).inc()
        self.metrics.observe_run(agent_id, self.channel, ok=status == 200, seconds=seconds)
        if status == 200:
            try:
                meta = json.loads(data)["outputs"]["agent"].get("kaizen") or {}
            except (ValueError, KeyError, TypeError, AttributeError):
                meta = {}
            self.metrics.observe_usage(agent_id, int(meta.get("input_tokens") or 0),
                                       int(meta.get("output_tokens") or 0), meta.get("cost"))
        else:
            self.metrics.errors.labels(agent_id, str(status)).inc()
        if self.security.audit_enabled:
            await asyncio.to_thread(self.security.log_operation, user, "execute", f"agent/{agent_id}",
                                    "success" if status == 200 else "error", {"status": status, "channel": "api"})
        await send({"type": "http.response.start", "status": status, "headers": captured["headers"]})
        await send({"type": "http.response.body", "body": data})


class MCPGate(_Gate):
    """The MCP channel: every request authenticated; ``tools/call`` needs ``execute`` on ``agent/<tool>``."""

    channel = "mcp"

    def __init__(self, app: Any, security: Any, metrics: DeploymentMetrics, tools: Mapping[str, str]) -> None:
        super().__init__(app, security, metrics)
        self.tools = dict(tools)  # MCP tool name -> agent id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user = await self._authenticate(scope, send)
        if user is None:
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        if raw is None:
            return
        payload, _invalid = parse_json(raw or b"null")  # None when malformed: the MCP server answers that
        for message in payload if isinstance(payload, list) else [payload]:
            if isinstance(message, dict) and message.get("method") == "tools/call":
                name = str((message.get("params") or {}).get("name") or "")
                agent_id = self.tools.get(name, name)
                if not await self._authorize(user, "execute", f"agent/{agent_id}", send):
                    self.metrics.errors.labels(agent_id, "403").inc()
                    return
                self.metrics.runs.labels(agent_id, "mcp", "called").inc()
        await self.app(_with_length(scope, raw), replay(raw, receive), send)
