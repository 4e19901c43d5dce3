"""The kernel side of the JupyterLab extension: one ``kaizen_lab`` comm per kernel.

``%load_ext kaizen_lab`` opens the comm from the kernel (``open_channel``) and keeps it for the kernel's life.
The extension never opens comms itself: it asks the kernel which ``kaizen_lab`` comms exist (``comm_info``)
and attaches to the one listed, or receives it as it opens; while there is none (the extension is not loaded
yet) it asks again only after a cell ran or after a back-off. Opening and closing a comm on every sidebar
refresh made the kernel start and tear down a subshell each time, whose teardown race printed stray
``Task was destroyed but it is pending!`` lines into running cells. (The ``kaizen_lab`` target stays
registered for clients that open their own comm.)

The extension sends requests carrying a ``request_id``; every message is typed in
``kaizen_lab.notebook.protocol`` (mirrored by the extension's ``src/protocol.ts``):

- ``check_signature`` (a cell's ``code``) → its ``errors`` (``message``, ``line``, ``column``), parsed with the
  very parser ``%%signature`` uses (types resolve from the notebook namespace), line numbers counted in the cell;
- ``state`` (with the ``theme`` JupyterLab shows) → the notebook's signatures, agents, MCP servers and recent
  runs (start time and first input), for the sidebar; the theme is used by figures built afterwards;
- ``trace`` (a ``run_id``) → the run's span tree as ``html``, for a panel beside the notebook;
- anything malformed, of an unknown type or failing while answered → an ``error`` reply saying why.

``handle_request`` is pure (namespace and tracer in, reply out) so it is tested without a kernel.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, assert_never

from kaizen_lab.notebook.protocol import (
    AgentEntry,
    CheckSignatureReply,
    ErrorReply,
    McpServerEntry,
    ProtocolError,
    ReadyMessage,
    Reply,
    RunEntry,
    SignatureDiagnostic,
    SignatureEntry,
    StateReply,
    TraceReply,
    parse_request,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from kaizen_lab.tracing.tracer import Tracer

__all__ = ["TARGET", "close_channel", "handle_request", "open_channel", "register_comm_target"]

TARGET = "kaizen_lab"
_CHANNELS: dict[int, Any] = {}
_REOPEN: dict[int, Any] = {}


def _diagnostic(message: str, line: int, column: int) -> SignatureDiagnostic:
    return {"message": message, "line": line, "column": column}


def _check_signature(code: str, namespace: Mapping[str, Any]) -> list[SignatureDiagnostic]:
    from kaizen_lab.errors import SignatureError
    from kaizen_lab.signatures.signature import Signature

    header, _, body = code.partition("\n")
    if not header.strip().startswith("%%signature"):
        return []
    try:
        words = shlex.split(header.strip()[len("%%signature"):])
    except ValueError as exc:
        return [_diagnostic(f"header: {exc}", 1, 0)]
    if not words:
        return [_diagnostic("%%signature needs a NAME, e.g. %%signature QA", 1, len(header.rstrip()))]
    lines = body.split("\n")
    skip = 0
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    text = "\n".join(lines[skip:]).rstrip()
    if not text:
        return [_diagnostic("the cell has no signature below the header", 1, 0)]
    try:
        Signature.parse(text, namespace)
    except SignatureError as exc:
        # the cell's line = the header + the blank lines skipped + the line within the signature text
        return [_diagnostic(exc.reason, 1 + skip + (exc.line or 1), exc.column if exc.column is not None else 0)]
    return []


def _state(request_id: str | None, namespace: Mapping[str, Any], runs: Tracer | None = None) -> StateReply:
    import sys

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

    signatures: list[SignatureEntry] = [{"name": k, "text": str(v)} for k, v in namespace.items()
                                        if not k.startswith("_") and isinstance(v, Signature)]
    agents: list[AgentEntry] = []
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, Agent):
            continue
        model = value.model_shown
        agents.append({"name": name, "agent_id": value.agent_id, "model": model, "tools": value.tools.names(),
                       "signature": str(value.signature)})
    servers: list[McpServerEntry] = []
    if "kaizen_lab.mcp" in sys.modules:  # only when MCP is in use; never imported for the sidebar
        try:
            summary = sys.modules["kaizen_lab.mcp"].summary()
            for server in summary.get("servers", []):
                servers.append({"name": str(server.get("name") or ""), "status": str(server.get("status") or ""),
                                "tools": [str(t.get("name") or "") for t in server.get("tools", [])]})
        except Exception:  # noqa: BLE001 - the sidebar must not fail because a server is down
            servers = []
    recent: list[RunEntry] = []
    if runs is not None:  # the notebook's tracer: the same record %trace and the panels read
        finished = [r for r in runs.runs(roots_only=True) if r.status != "running"]
        for run in reversed(finished[-20:]):
            inputs = run.inputs or {}
            first = next(iter(inputs.values()), None) if isinstance(inputs, Mapping) else None
            text = "" if first is None else str(first)
            recent.append({"run_id": run.run_id, "agent_id": run.agent_id, "status": run.status,
                           "duration_ms": round(run.duration_ms or 0.0, 2), "model": run.model,
                           "started": run.start, "input": text if len(text) <= 80 else text[:79] + "…"})
    return {"type": "state", "request_id": request_id, "signatures": signatures, "agents": agents,
            "mcp_servers": servers, "runs": recent}


def _trace(request_id: str | None, run_id: str, runs: Tracer | None) -> TraceReply:
    from kaizen_lab.notebook.trace_view import trace_tree_html

    events: list[Any] = []
    if runs is not None and run_id:  # the notebook's tracer (the run's recorded, redacted events)
        try:
            events = list(runs.events(run_id))
        except KeyError:
            events = []
    return {"type": "trace", "request_id": request_id, "run_id": run_id, "html": trace_tree_html(run_id, events)}


def _error(request_id: str | None, message: str) -> ErrorReply:
    return {"type": "error", "request_id": request_id, "error": message}


def handle_request(data: Mapping[str, object], namespace: Mapping[str, Any], runs: Tracer | None = None) -> Reply:
    """Answer one message from the extension; the reply echoes its ``request_id``.

    A message that is not a valid request is answered with an ``error`` reply naming the problem.
    """
    raw_id = data.get("request_id")
    request_id = raw_id if isinstance(raw_id, str) else None
    try:
        request = parse_request(data)
    except ProtocolError as exc:
        return _error(request_id, str(exc))
    match request["type"]:
        case "check_signature":
            reply: Reply = CheckSignatureReply(type="check_signature", request_id=request_id,
                                               errors=_check_signature(request["code"], namespace))
        case "state":
            if "theme" in request:
                from kaizen_lab.notebook.theme import set_theme

                set_theme(request["theme"])
            reply = _state(request_id, namespace, runs)
        case "trace":
            reply = _trace(request_id, request["run_id"], runs)
        case _:
            assert_never(request)
    return reply


def _answer(ipython: InteractiveShell, runs: Tracer | None, comm: Any) -> None:
    """Answer every request arriving on ``comm``."""
    def on_msg(msg: Any) -> None:
        data = msg.get("content", {}).get("data", {}) or {}
        try:
            reply = handle_request(data, ipython.user_ns, runs)
        except Exception as exc:  # noqa: BLE001 - answered to the frontend instead of killing the comm
            raw_id = data.get("request_id") if isinstance(data, Mapping) else None
            reply = _error(raw_id if isinstance(raw_id, str) else None, f"{type(exc).__name__}: {exc}")
        comm.send(reply)

    comm.on_msg(on_msg)


def _comm_manager(ipython: InteractiveShell) -> Any:
    kernel = getattr(ipython, "kernel", None)
    return getattr(kernel, "comm_manager", None) if kernel is not None else None


def register_comm_target(ipython: InteractiveShell, runs: Tracer | None = None) -> bool:
    """Register the ``kaizen_lab`` target on ``ipython``'s kernel; False in a shell without a kernel."""
    manager = _comm_manager(ipython)
    if manager is None:
        return False
    manager.register_target(TARGET, lambda comm, _open_msg: _answer(ipython, runs, comm))
    return True


def open_channel(ipython: InteractiveShell, runs: Tracer | None = None) -> Any:
    """Open the kernel's one ``kaizen_lab`` comm (again only if it was closed); ``None`` without a kernel.

    A frontend without the extension closes the comm it is offered; the comm is then reopened after the next
    cell that runs (at most once per cell), so a notebook with the extension gets it back.
    """
    if _comm_manager(ipython) is None:
        return None
    existing = _CHANNELS.get(id(ipython))
    if existing is not None and not getattr(existing, "_closed", False):
        return existing
    from comm import create_comm

    ready: ReadyMessage = {"type": "ready"}
    channel = create_comm(target_name=TARGET, data=ready)
    _answer(ipython, runs, channel)
    _CHANNELS[id(ipython)] = channel
    if id(ipython) not in _REOPEN:
        def reopen(_result: Any = None) -> None:
            if id(ipython) in _CHANNELS:
                open_channel(ipython, runs)

        _REOPEN[id(ipython)] = reopen
        ipython.events.register("post_run_cell", reopen)
    return channel


def close_channel(ipython: InteractiveShell) -> None:
    """Close the comm opened by ``open_channel`` and remove the ``kaizen_lab`` target (``%unload_ext``): the
    extension stops asking, and a later ``%load_ext`` registers the target once again."""
    reopen = _REOPEN.pop(id(ipython), None)
    if reopen is not None:
        ipython.events.unregister("post_run_cell", reopen)
    channel = _CHANNELS.pop(id(ipython), None)
    if channel is not None and not getattr(channel, "_closed", False):
        channel.close()
    manager = _comm_manager(ipython)
    targets = getattr(manager, "targets", None) or {}
    if manager is not None and TARGET in targets:
        manager.unregister_target(TARGET, targets[TARGET])
