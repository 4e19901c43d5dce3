"""Rich display: HTML cards for signatures, agents, results, workflows, traces and errors.

Every card comes with ``text/plain`` (nbval, terminals, VS Code fall back to it) and carries no ANSI codes.
``register_formatters`` plugs the cards into IPython's HTML formatter by type, so objects created anywhere
(not only by the magics) render the same way once ``%load_ext kaizen_lab`` ran.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizen_lab.mcp.client import MCPConnection
    from kaizen_lab.signatures.signature import Signature
    from kaizen_lab.tracing.monitor import TransparencyMonitor

__all__ = ["GraphView", "RunProgress", "RunTrace", "error_card", "register_formatters", "signature_html", "trace_html", "unregister_formatters",
           "workflow_html"]

_BOX = "border:1px solid var(--jp-border-color1, #9e9e9e);border-radius:6px;padding:6px 10px;display:inline-block;font-family:sans-serif"


def _e(value: Any) -> str:
    return html.escape(str(value))


def signature_html(sig: Signature) -> str:
    rows = "".join(
        f"<tr><td>{'in' if f.role == 'input' else 'out'}</td><td><b>{_e(f.name)}</b></td>"
        f"<td><code>{_e(f.type_text)}</code></td><td>{_e(f.description)}</td>"
        f"<td>{'' if f.required else _e(f'= {f.default!r}')}</td></tr>"
        for f in (*sig.input_fields, *sig.output_fields))
    doc = f"<div><i>{_e(sig.instructions)}</i></div>" if sig.instructions else ""
    name = _e(sig.name or "Signature")
    return (f"<div class='kaizen-signature' style='{_BOX}'><b>{name}</b> <code>{_e(str(sig))}</code>{doc}"
            f"<table>{rows}</table></div>")


def workflow_html(wf: Any) -> str:
    built = wf.build() if hasattr(wf, "build") and not hasattr(wf, "graph") else wf
    nodes = [(nid, data.get("type") or type(data.get("node")).__name__) for nid, data in built.graph.nodes(data=True)]
    edges = [(a, b, d) for a, b, d in built.graph.edges(data=True)]
    node_rows = "".join(f"<li><b>{_e(n)}</b> <code>{_e(t)}</code></li>" for n, t in nodes)
    edge_rows = "".join(f"<li>{_e(a)} → {_e(b)} <code>{_e(json.dumps(d.get('mapping') or {}))}</code>"
                        f"{' (cycle)' if d.get('cycle') else ''}</li>" for a, b, d in edges)
    return (f"<div class='kaizen-workflow' style='{_BOX}'><b>Workflow</b> · {len(nodes)} nodes, {len(edges)} "
            f"connections<ul>{node_rows}</ul><ul>{edge_rows}</ul></div>")


def _event_line(e: Any) -> str:
    kind = e.kind
    if kind == "step_finished":
        return f"{e.step} {e.name} {e.status} {e.duration_ms:.1f} ms" + (f" error: {e.error}" if e.error else "")
    if kind == "model_called":
        return (f"model {e.model} attempt {e.attempt} {e.duration_ms:.1f} ms {e.input_tokens}+{e.output_tokens} "
                f"tokens{' (cache)' if e.cache_hit else ''}")
    if kind == "tool_called":
        return f"tool {e.tool} {e.duration_ms:.1f} ms" + (f" error: {e.error}" if e.error else "")
    if kind == "retried":
        return f"retry {e.attempt}: {e.reason}"
    if kind == "run_started":
        return f"run {e.run_id} started ({e.agent_id})"
    if kind == "run_finished":
        return f"run {e.run_id} {e.status} in {e.duration_ms:.1f} ms" + (f": {e.error}" if e.error else "")
    return kind


@dataclass
class RunTrace:
    """The events of one run, displayable as a card (``%trace``) and as panels (``.panel()``).

    ``events`` are the run's typed events as the tracer recorded them (redacted); ``trace`` is the tracer's
    ``Trace`` of the same run (its spans), when it came from a tracer.
    """

    run_id: str
    events: list[Any] = field(default_factory=list)
    trace: Any = None

    @property
    def status(self) -> str:
        fin = [e for e in self.events if e.kind == "run_finished" and e.run_id == self.run_id]
        return fin[-1].status if fin else "running"

    def panel(self) -> Any:
        """The run's timeline (Gantt) as a Plotly figure."""
        from kaizen_lab.notebook.panels.performance import timeline_figure

        return timeline_figure(self.events, title=f"run {self.run_id}")

    def __repr__(self) -> str:
        from kaizen_lab.notebook.trace_view import trace_tree_text

        header = f"RunTrace({self.run_id!r}, {self.status}, {len(self.events)} events)"
        return header + "\n" + trace_tree_text(self.run_id, self.events)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": trace_html(self)}


def trace_html(trace: RunTrace) -> str:
    """The run as a span tree: collapsible steps with duration bars, status icons and tokens."""
    from kaizen_lab.notebook.trace_view import trace_tree_html

    return trace_tree_html(trace.run_id, trace.events)


def error_card(exc: BaseException) -> dict[str, str]:
    """A mime bundle for an error: the message (with its caret line) in a pre block, no traceback noise."""
    text = f"{type(exc).__name__}: {exc}"
    body = (f"<div class='kaizen-error' style='{_BOX};border-color:var(--jp-error-color1, #c62828)'><b style='color:var(--jp-error-color1, #c62828)'>"
            f"{_e(type(exc).__name__)}</b><pre>{_e(str(exc))}</pre></div>")
    return {"text/plain": text, "text/html": body}


class ErrorCard:
    """An error shown as a card (returned by magics instead of a traceback for the user's mistakes)."""

    def __init__(self, exc: BaseException) -> None:
        self.error = exc

    def __repr__(self) -> str:
        return error_card(self.error)["text/plain"]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return error_card(self.error)


class RunProgress:
    """The live lines of a running ``%agent run`` (the placeholder first), as text and as HTML."""

    def __init__(self, lines: list[str] | None = None, *, keep: int = 8) -> None:
        self.lines = list(lines or [])[-keep:]

    def __repr__(self) -> str:
        return "\n".join(self.lines) if self.lines else "running…"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        body = "<br>".join(_e(line) for line in self.lines) if self.lines else "<i>running…</i>"
        return {"text/plain": repr(self), "text/html": f"<div class='kaizen-progress'>{body}</div>"}


class GraphView:
    """A workflow graph (``%agent show``): the Plotly figure, plus the nodes and connections as text and HTML
    for frontends that cannot draw Plotly (a terminal, nbviewer, an exported page)."""

    def __init__(self, figure: Any, title: str) -> None:
        self.figure = figure
        self.title = title
        meta = dict(getattr(figure.layout, "meta", None) or {})
        self.nodes: list[str] = [str(n) for n in meta.get("nodes", [])]
        self.edges: list[tuple[str, str, bool]] = [(str(e[0]), str(e[1]), bool(e[2])) for e in meta.get("edges", [])]

    def _edge_text(self) -> list[str]:
        return [f"{a} → {b}{' (cycle)' if cycle else ''}" for a, b, cycle in self.edges]

    def __repr__(self) -> str:
        lines = [f"{self.title}: {len(self.nodes)} nodes, {len(self.edges)} connections"]
        return "\n".join(lines + [f"  {e}" for e in self._edge_text()])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from kaizen_lab.notebook.static import figure_bundle

        bundle = figure_bundle(self.figure)  # Plotly JSON, static image, offline HTML
        items = "".join(f"<li>{_e(e)}</li>" for e in self._edge_text())
        bundle["text/plain"] = repr(self)
        bundle["text/html"] += (f"<div class='kaizen-workflow' style='{_BOX}'><b>{_e(self.title)}</b> · "
                                f"{len(self.nodes)} nodes<ul>{items}</ul></div>")
        return bundle


def _stepper_html(stepper: Any) -> str:
    items = "".join(f"<li>{_e(n)}: {_e(s)}</li>" for n, s in stepper.status().items())
    return f"<div class='kaizen-stepper' style='{_BOX}'><b>{_e(repr(stepper))}</b><ul>{items}</ul></div>"


def mcp_connection_html(conn: MCPConnection) -> str:
    """An MCP connection: server, transport, status, latency, tools (with their last outcome) and errors."""
    from kaizen_lab.security.redact import redact_text

    info = conn.info()
    colour = {"ready": "#43a047", "down": "#e53935", "closed": "#757575"}.get(info["status"], "#1e88e5")
    latency = f" · {info['latency_ms']:.1f} ms" if info.get("latency_ms") is not None else ""
    tools = "".join(f"<li><b>{_e(t.get('name'))}</b> {_e(t.get('description') or '')} "
                    f"<i>({_e(t.get('status'))})</i></li>" for t in info.get("tools", []))
    error = (f"<div style='color:#e53935'>last error: {_e(redact_text(str(info['last_error'])))}</div>"
             if info.get("last_error") else "")
    offered = "".join(f"<li><code>{_e(ref)}</code> {_e(arg)} → {_e(', '.join(map(str, values[:8])))}</li>"
                      for ref, args in (info.get("completions") or {}).items()
                      for arg, values in args.items() if values)
    if offered:
        error += f"<div>completion values:<ul>{offered}</ul></div>"
    return (f"<div class='kaizen-mcp' style='{_BOX}'><b>MCP server {_e(info['name'])}</b> "
            f"<span style='color:{colour}'>{_e(info['status'])}</span> · {_e(info['transport'])} "
            f"<code>{_e(redact_text(str(info.get('target') or '')))}</code>{latency} · {info['calls']} calls, "
            f"{info['errors']} errors, {info['reconnects']} reconnects{error}"
            f"<ul>{tools or '<li>tools not listed yet</li>'}</ul></div>")


def _monitor_facts(monitor: TransparencyMonitor) -> tuple[str, list[tuple[str, str]]]:
    tracer = monitor.tracer
    state = "monitoring" if monitor.monitoring else ("stopped" if tracer is not None else "not started")
    facts: list[tuple[str, str]] = []
    if tracer is not None:
        try:
            runs = tracer.runs()
            facts.append(("runs recorded", str(len(runs))))
            facts.append(("agents", ", ".join(sorted({r.agent_id for r in runs})) or "-"))
        except Exception as exc:  # noqa: BLE001 - a card must render even when the store cannot answer
            facts.append(("runs", f"unavailable: {exc}"))
        store = getattr(tracer, "store", None)
        facts.append(("store", type(store).__name__ if store is not None else "memory"))
    else:
        facts.append(("start", "monitor.start_monitoring() records every run from now on"))
    return state, facts


def monitor_text(monitor: TransparencyMonitor) -> str:
    state, facts = _monitor_facts(monitor)
    return "\n".join([f"TransparencyMonitor ({state})", *(f"  {k}: {v}" for k, v in facts)])


def monitor_html(monitor: TransparencyMonitor) -> str:
    state, facts = _monitor_facts(monitor)
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in facts)
    return (f"<div class='kaizen-monitor' style='{_BOX}'><b>Transparency monitor</b> {_e(state)}"
            f"<table>{rows}</table></div>")


def _formatters() -> list[tuple[str, str, Any]]:
    """(module, class name, html function) registered lazily by name: no import of kailash at load time."""
    return [
        ("kaizen_lab.signatures.signature", "Signature", signature_html),
        ("kailash.workflow.graph", "Workflow", workflow_html),
        ("kailash.workflow.builder", "WorkflowBuilder", workflow_html),
        ("kaizen_lab.runtime.stepper", "Stepper", _stepper_html),
        ("kaizen_lab.mcp.client", "MCPConnection", mcp_connection_html),
        ("kaizen_lab.tracing.monitor", "TransparencyMonitor", monitor_html),
    ]


def _text_formatters() -> list[tuple[str, str, Any]]:
    """(module, class name, pretty printer) for objects whose own repr says too little."""
    return [("kaizen_lab.tracing.monitor", "TransparencyMonitor",
             lambda obj, p, cycle: p.text(monitor_text(obj)))]


def register_formatters(ip: Any) -> None:
    """Register the HTML cards on ``ip``'s display formatter (by type name: nothing heavy is imported)."""
    for mime, entries in (("text/html", _formatters()), ("text/plain", _text_formatters())):
        fmt = ip.display_formatter.formatters[mime]
        for module, name, fn in entries:
            fmt.for_type_by_name(module, name, fn)
    from kaizen_lab.notebook.static import register

    register(ip)  # Plotly figures and widgets: static image, offline HTML and text beside the live view


def unregister_formatters(ip: Any) -> None:
    from kaizen_lab.notebook.static import unregister

    unregister(ip)
    for mime, entries in (("text/html", _formatters()), ("text/plain", _text_formatters())):
        fmt = ip.display_formatter.formatters[mime]
        for module, name, _ in entries:
            fmt.deferred_printers.pop((module, name), None)
            for tp in list(fmt.type_printers):
                if getattr(tp, "__name__", None) == name and getattr(tp, "__module__", None) == module:
                    fmt.type_printers.pop(tp, None)
