"""What an MCP server may ask of kaizen-lab's client, and the policy that answers.

- **sampling** (``sampling/createMessage``): answered by the calling agent's own model (or ``sampling_model``,
  by default the embedded local model) under ``sampling="allow" | "ask" | "deny"`` and a token budget;
- **elicitation** (``elicitation/create``): a widget form in the running notebook cell, a terminal prompt, or the
  headless policy (default: decline, with a warning recorded in the run);
- **roots** (``roots/list``): the working directory unless configured;
- **logging** and **progress** notifications: recorded as ``MCPNotified`` run events (logging from ``log_level``).

Every request and notification becomes an ``MCPNotified`` event on the run that made the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kaizen_lab.errors import ConfigError
from kaizen_lab.mcp._forms import Answer, apply_defaults, terminal_answer, validate_answer

if TYPE_CHECKING:
    from kaizen_lab.mcp.client import MCPConnection

__all__ = ["CallScope", "ClientPolicy", "RequestHandlers"]

SamplingPolicy = Literal["allow", "ask", "deny"]
ElicitationMode = Literal["auto", "widget", "terminal", "decline", "cancel", "accept_defaults"]
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclass
class ClientPolicy:
    """How this client answers servers. ``elicitation="auto"`` picks a notebook form, else a terminal prompt
    when stdin is a terminal, else ``headless_elicitation`` (``decline`` unless configured). ``protocol`` says
    how the version is negotiated: ``"auto"`` (the newest both sides speak), ``"legacy"`` (the 2025
    ``initialize`` handshake) or a 2026 version to adopt directly."""

    sampling: SamplingPolicy = "allow"
    sampling_model: Any = None
    sampling_token_budget: int | None = 8192
    elicitation: ElicitationMode = "auto"
    headless_elicitation: Literal["decline", "cancel", "accept_defaults"] = "decline"
    elicit: Callable[[str, str, dict[str, Any]], Answer | None] | None = None
    roots: Sequence[str | os.PathLike[str]] | None = None
    log_level: str = "info"
    protocol: str = "auto"
    #: OAuth for HTTP servers that ask for it: an ``MCPOAuth`` (``True`` for its defaults)
    oauth: Any = None

    def __post_init__(self) -> None:
        if self.oauth is True:
            from kaizen_lab.mcp._oauth import MCPOAuth

            self.oauth = MCPOAuth()
        elif self.oauth is False:
            self.oauth = None
        elif self.oauth is not None and not hasattr(self.oauth, "provider"):
            raise ConfigError(f"oauth= takes MCPOAuth(...) or True, got {type(self.oauth).__name__}", path="oauth",
                              value=type(self.oauth).__name__, allowed="MCPOAuth, True, None")
        if self.protocol not in ("auto", "legacy") and not str(self.protocol).startswith("2026"):
            raise ConfigError(f"protocol must be 'auto', 'legacy' (2025 handshake) or a 2026 version such as "
                              f"'2026-07-28', got {self.protocol!r}", path="protocol", value=self.protocol,
                              allowed="auto, legacy, 2026-07-28")
        if self.sampling not in ("allow", "ask", "deny"):
            raise ConfigError(f"sampling policy must be allow, ask or deny, got {self.sampling!r}",
                              path="sampling", value=self.sampling, allowed="allow, ask, deny")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {LOG_LEVELS}, got {self.log_level!r}", path="log_level",
                              value=self.log_level, allowed=", ".join(LOG_LEVELS))
        if self.sampling_token_budget is not None and self.sampling_token_budget <= 0:
            raise ConfigError("sampling_token_budget must be a positive number of tokens (or None)",
                              path="sampling_token_budget", value=self.sampling_token_budget)


@dataclass
class CallScope:
    """One call in flight: the run (and agent) that made it, and its progress callback."""

    run_id: str = ""
    agent: Any = None
    on_progress: Callable[[float, float | None, str | None], None] | None = None
    display: Callable[[Any], None] | None = None
    blocking: bool = False  # a synchronous call: the calling cell's thread waits for the result
    bar: Any = None
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)


def _notify(conn: MCPConnection, scope: CallScope | None, what: str, **detail: Any) -> None:
    from kaizen_lab import events as ev

    event = ev.MCPNotified(run_id=scope.run_id if scope else "", server=conn.name, what=what, detail=detail)
    conn.notifications.append(event)
    ev.record(event)


class RequestHandlers:
    """The SDK callbacks of one connection (run on the background loop)."""

    def __init__(self, conn: MCPConnection, policy: ClientPolicy) -> None:
        self.conn = conn
        self.policy = policy
        self.sampling_tokens = 0
        self.logs: deque[dict[str, Any]] = deque(maxlen=200)

    def client_kwargs(self) -> dict[str, Any]:
        return {"sampling_callback": self.sampling, "elicitation_callback": self.elicitation,
                "list_roots_callback": self.list_roots, "logging_callback": self.logging,
                "log_level": self.policy.log_level, "mode": self.policy.protocol}

    def progress(self, scope: CallScope, value: float, total: float | None, message: str | None) -> None:
        scope.progress.append((value, total, message))
        _notify(self.conn, scope, "progress", progress=value, total=total, message=message)
        if scope.on_progress is not None:
            with contextlib.suppress(Exception):
                scope.on_progress(value, total, message)
        if scope.display is not None:  # a notebook cell is running the call: a progress bar in it
            with contextlib.suppress(Exception):
                if scope.bar is None:
                    import ipywidgets

                    scope.bar = ipywidgets.FloatProgress(min=0.0, max=total or 100.0, description=self.conn.name[:20])
                    scope.display(scope.bar)
                scope.bar.max = max(total or 0.0, value, scope.bar.max)
                scope.bar.value = value
                scope.bar.description = (message or self.conn.name)[:20]

    # -- sampling ------------------------------------------------------------------------------------------
    async def sampling(self, context: Any, params: Any) -> Any:
        from mcp import types

        from kaizen_lab.mcp.content import content_from_sdk, model_input
        from kaizen_lab.messages import Message
        from kaizen_lab.models.base import ModelSettings

        scope = self.conn.current_scope()
        policy = self.policy.sampling
        prompt = []
        for message in params.messages:
            blocks = message.content if isinstance(message.content, list) else [message.content]
            # images in the request reach a model that takes them; the others get a line naming each
            text, images = model_input((content_from_sdk(b) for b in blocks), f"server {self.conn.name}")
            prompt.append(Message("assistant" if message.role == "assistant" else "user", text, images=images))
        preview = prompt[-1].text_with_placeholders()[:200] if prompt else ""
        budget = self.policy.sampling_token_budget
        if policy == "deny" or (budget is not None and self.sampling_tokens + params.max_tokens > budget):
            reason = "sampling is denied by policy" if policy == "deny" else \
                f"sampling token budget exhausted ({self.sampling_tokens}/{budget} used, {params.max_tokens} asked)"
            _notify(self.conn, scope, "sampling", decision="refused", reason=reason, prompt=preview)
            return types.ErrorData(code=-1, message=f"kaizen-lab refused sampling: {reason}")
        if policy == "ask":
            answer = await self._ask(f"The server wants your model to answer: {preview!r}. Allow?",
                                     {"type": "object", "properties": {}})
            if answer.action != "accept":
                _notify(self.conn, scope, "sampling", decision="refused", reason=f"user {answer.action}d",
                        prompt=preview)
                return types.ErrorData(code=-1, message=f"the user {answer.action}d the sampling request")
        model = self._model(scope)
        messages = ([Message("system", params.system_prompt)] if params.system_prompt else []) + prompt
        settings = ModelSettings(max_tokens=params.max_tokens, temperature=params.temperature,
                                 stop=tuple(params.stop_sequences) if params.stop_sequences else None)
        try:
            response = await model.request(messages, settings=settings)
        except Exception as exc:  # noqa: BLE001 - the server gets an error, the run keeps the reason
            _notify(self.conn, scope, "sampling", decision="failed", model=model.label, error=str(exc)[:300])
            return types.ErrorData(code=-1, message=f"sampling failed: {type(exc).__name__}: {exc}")
        used = response.usage.total_tokens or (sum(len(m.content) for m in messages) + len(response.text)) // 4
        self.sampling_tokens += used
        _notify(self.conn, scope, "sampling", decision="answered", model=model.label, prompt=preview,
                tokens=used, answer=response.text[:200])
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=response.text),
                                         model=model.label, stop_reason="endTurn")

    def _model(self, scope: CallScope | None) -> Any:
        from kaizen_lab.models.registry import resolve_model

        if self.policy.sampling_model is not None:
            return resolve_model(self.policy.sampling_model)
        agent_model = getattr(scope.agent, "model", None) if scope and scope.agent is not None else None
        return agent_model if agent_model is not None else resolve_model("local")

    # -- elicitation ---------------------------------------------------------------------------------------
    async def elicitation(self, context: Any, params: Any) -> Any:
        from mcp import types

        scope = self.conn.current_scope()
        schema = dict(getattr(params, "requested_schema", None) or {"type": "object", "properties": {}})
        if getattr(params, "mode", "form") == "url":
            _notify(self.conn, scope, "elicitation", action="decline", reason="URL elicitation is not supported",
                    message=params.message[:200])
            return types.ElicitResult(action="decline")
        answer = await self._ask(params.message, schema)
        content = apply_defaults(schema, answer.content) if answer.action == "accept" else None
        if content is not None and validate_answer(schema, content):
            answer, content = Answer("cancel"), None
        _notify(self.conn, scope, "elicitation", action=answer.action, message=params.message[:200],
                fields=sorted(content or {}))
        return types.ElicitResult(action=answer.action, content=content)

    async def _ask(self, message: str, schema: dict[str, Any]) -> Answer:
        if self.policy.elicit is not None:
            custom = await asyncio.to_thread(self.policy.elicit, self.conn.name, message, schema)
            if custom is not None:
                return custom
        mode: str = self.policy.elicitation
        hint = " (set elicitation= on the connection to change this)"
        if mode == "auto":
            mode = _detect_mode()
        if mode == "widget" and _kernel_blocked(self.conn.current_scope()):
            # the kernel processes widget clicks only between (or inside awaiting) cells, never while a cell
            # blocks: say so instead of showing a form nobody can submit
            mode = "headless"
            hint = ("; a blocking call can't show a form in a notebook kernel: use `await conn.acall_tool(...)` or "
                    "`await agent.aexecute(...)` to answer it in the cell")
        if mode == "widget":
            return await self._widget(message, schema)
        if mode == "terminal":
            return await asyncio.to_thread(terminal_answer, self.conn.name, message, schema)
        if mode == "accept_defaults":
            return Answer("accept", apply_defaults(schema, {}))
        if mode == "headless":
            mode = self.policy.headless_elicitation
            if mode == "accept_defaults":
                return Answer("accept", apply_defaults(schema, {}))
            note = (f"MCP server {self.conn.name!r} asked for input ({message[:120]!r}) but nobody can answer "
                    f"here; answered {mode!r} by policy{hint}")
            warnings.warn(note, RuntimeWarning, stacklevel=2)
            _notify(self.conn, self.conn.current_scope(), "warning", message=note)
        return Answer("decline" if mode == "decline" else "cancel")

    async def _widget(self, message: str, schema: dict[str, Any]) -> Answer:
        from kaizen_lab.mcp._forms import ElicitForm

        form = ElicitForm(self.conn.name, message, schema)
        show = self.conn.current_display()
        show(form.widget)
        return await form.answer()

    # -- roots, logging ------------------------------------------------------------------------------------
    async def list_roots(self, context: Any) -> Any:
        from mcp import types

        paths = [Path(p).resolve() for p in (self.policy.roots or [os.getcwd()])]
        _notify(self.conn, self.conn.current_scope(), "roots", roots=[str(p) for p in paths])
        return types.ListRootsResult(roots=[types.Root.model_validate({"uri": p.as_uri(), "name": p.name or str(p)}) for p in paths])

    async def logging(self, params: Any) -> None:
        entry = {"level": str(params.level), "logger": params.logger, "data": _plain(params.data)}
        self.logs.append(entry)
        _notify(self.conn, self.conn.current_scope(), "log", **entry)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value[:1000]
    if isinstance(value, Mapping | list | int | float | bool) or value is None:
        return value
    return str(value)[:1000]


def _kernel_blocked(scope: CallScope | None) -> bool:
    if scope is None or not scope.blocking:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def _detect_mode() -> str:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the notebook extra
        shell = None
    else:
        shell = get_ipython()
    import builtins

    # a shell that is executing a cell right now (IPython puts get_ipython into builtins only while it runs one)
    if shell is not None and type(shell).__name__ != "TerminalInteractiveShell" and hasattr(builtins, "get_ipython"):
        return "widget"
    stdin = sys.stdin
    if stdin is not None and hasattr(stdin, "isatty") and stdin.isatty():
        return "terminal"
    return "headless"


def capability_names(caps: Mapping[str, Any]) -> list[str]:
    """``tools``, ``resources``, ``prompts``, ``logging``, ``completions`` ... (what the server declared)."""
    names = [k for k in ("tools", "resources", "prompts", "logging", "completions") if caps.get(k) is not None]
    if isinstance(caps.get("resources"), Mapping) and caps["resources"].get("subscribe"):
        names.append("subscribe")
    return names + sorted(k for k in caps if k not in names and k not in ("experimental", "extensions"))


def new_scope(agent: Any, on_progress: Any) -> CallScope:
    from kaizen_lab import events as ev

    scope = CallScope(run_id=ev.current_run_id(), agent=agent, on_progress=on_progress)
    scope.display = cell_display()
    return scope


def cell_display() -> Callable[[Any], None] | None:
    """Show an object in the cell that is running now, even when called later from another thread (None outside
    IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    if shell is None:
        return None
    kernel = getattr(shell, "kernel", None)
    parent = kernel.get_parent() if kernel is not None and hasattr(kernel, "get_parent") else None

    def show(obj: Any) -> None:
        from IPython.display import display

        if parent is not None and hasattr(shell, "set_parent"):
            with contextlib.suppress(Exception):
                shell.set_parent(parent)
        display(obj)

    return show
