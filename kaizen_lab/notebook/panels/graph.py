"""Execution-graph panel: a layered layout of a compiled workflow, coloured by each node's status.

Pure: ``workflow (+ statuses, node records) -> go.Figure``. The layout is computed here (longest-path layers
over the graph without its cycle edges), so it needs no graphviz and no network, unlike mermaid renderers.
Cycle edges are drawn as dashed back edges. ``live_graph`` gives a ``FigureWidget`` that ``update_graph``
recolours in place while a run progresses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

__all__ = ["STATUS_COLORS", "graph_figure", "graph_layout", "live_graph", "show_graph", "update_graph"]

STATUS_COLORS: dict[str, str] = {
    "pending": "#bdbdbd",
    "running": "#1e88e5",
    "done": "#43a047",
    "failed": "#e53935",
    "skipped": "#fdd835",
}
_HIGHLIGHT = "#0d47a1"


def _preview(value: Any, limit: int = 120) -> str:
    if value is None:
        return "-"
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _flowed(record: Any, mapping: Mapping[str, str]) -> str:
    outputs = getattr(record, "outputs", None) if not isinstance(record, Mapping) else record.get("outputs")
    if not isinstance(outputs, Mapping):
        return ""
    values = []
    for path in mapping:
        value: Any = outputs
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            values.append(value)
    return _preview(values[0] if len(values) == 1 else values, 40) if values else ""


def _graph_data(workflow: Any) -> tuple[list[str], dict[str, str], list[tuple[str, str, dict[str, str], bool]]]:
    """Node ids, node types and edges of a built workflow, a builder, a ``Stepper`` or a plain dict.

    The dict form (``{"nodes": {id: type}, "edges": [(src, dst, mapping, is_cycle)]}``) lets traces stored
    without Kailash be drawn too.
    """
    if isinstance(workflow, Mapping):
        nodes = dict(workflow["nodes"])
        edges = [(e[0], e[1], dict(e[2]) if len(e) > 2 else {}, bool(e[3]) if len(e) > 3 else False)
                 for e in workflow["edges"]]
        return list(nodes), nodes, edges
    if hasattr(workflow, "node_types") and hasattr(workflow, "edges"):  # a Stepper
        return list(workflow.order), dict(workflow.node_types), list(workflow.edges)
    from kaizen_lab.runtime.stepper import workflow_edges

    wf = workflow.build() if hasattr(workflow, "build") and not hasattr(workflow, "graph") else workflow
    types = {nid: data.get("type") or type(data.get("node")).__name__ for nid, data in wf.graph.nodes(data=True)}
    return list(types), types, workflow_edges(wf)


def graph_layout(nodes: list[str], edges: list[tuple[str, str, dict[str, str], bool]]) -> dict[str, tuple[float, float]]:
    """Layer = longest path from a source over forward edges; nodes spread evenly within a layer."""
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst, _, cyc in edges:
        if not cyc and src in preds and dst in preds:
            preds[dst].append(src)
    layer: dict[str, int] = {}

    def depth(n: str, seen: frozenset[str] = frozenset()) -> int:
        if n in layer:
            return layer[n]
        if n in seen:  # an undeclared cycle: break it here
            return 0
        layer[n] = d = max((depth(p, seen | {n}) + 1 for p in preds[n]), default=0)
        return d

    for n in nodes:
        depth(n)
    by_layer: dict[int, list[str]] = {}
    for n in nodes:
        by_layer.setdefault(layer[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for lyr, members in by_layer.items():
        width = len(members)
        for i, n in enumerate(members):
            pos[n] = (i - (width - 1) / 2, -float(lyr))
    return pos


def graph_figure(workflow: Any, statuses: Mapping[str, str] | None = None, *,
                 records: Mapping[str, Any] | None = None, current: str | None = None,
                 title: str | None = None) -> go.Figure:
    """The execution graph of ``workflow`` as a Plotly figure.

    Args:
        workflow: a ``Workflow``/``WorkflowBuilder``, a ``Stepper`` (its statuses and records are used), or
            ``{"nodes": {id: type}, "edges": [(src, dst, mapping, is_cycle)]}``.
        statuses: node id → ``pending``/``running``/``done``/``failed``/``skipped`` (default pending).
        records: node id → a ``NodeRecord`` or dict with ``duration_ms``, ``inputs``, ``outputs``, ``error``.
        current: the node to highlight (the debugger's next node).

    Traces: ``edges`` (forward), ``back edges`` (cycles, dashed) and ``nodes`` (one marker per node, in
    ``customdata`` the node id). ``layout.meta`` holds ``{"nodes", "edges", "statuses"}`` for callers.
    """
    if hasattr(workflow, "status") and hasattr(workflow, "nodes") and hasattr(workflow, "order"):
        statuses = statuses or workflow.status()
        records = records or workflow.nodes
        current = current if current is not None else workflow.current_node
    nodes, types, edges = _graph_data(workflow)
    statuses = dict(statuses or {})
    records = records or {}
    pos = graph_layout(nodes, edges)
    fwd_x: list[float | None] = []
    fwd_y: list[float | None] = []
    back_x: list[float | None] = []
    back_y: list[float | None] = []
    annotations: list[dict[str, Any]] = []
    for src, dst, mapping, cyc in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        if cyc:  # route the back edge out to the side so it does not overlap the forward path
            side = max(abs(x0), abs(x1)) + 0.8
            back_x += [x0, side, side, x1, None]
            back_y += [y0, y0, y1, y1, None]
        else:
            fwd_x += [x0, x1, None]
            fwd_y += [y0, y1, None]
        label = ", ".join(f"{a}→{b}" if a != b else a for a, b in mapping.items())
        flowed = _flowed(records.get(src), mapping)
        if flowed:  # once the source ran, show the data that went along the edge
            label = f"{label}: {flowed}"
        if label:
            annotations.append({"x": (x0 + x1) / 2 + (0.9 if cyc else 0), "y": (y0 + y1) / 2, "text": label,
                                "showarrow": False, "font": {"size": 10, "color": "#555"}})
    colours, hover, line_colours, line_widths = [], [], [], []
    for n in nodes:
        status = statuses.get(n, "pending")
        colours.append(STATUS_COLORS.get(status, STATUS_COLORS["pending"]))
        raw = records.get(n)
        rec: dict[str, Any] = raw.to_dict() if raw is not None and hasattr(raw, "to_dict") else dict(raw or {})
        usage = (rec.get("outputs") or {}).get("usage") if isinstance(rec.get("outputs"), dict) else None
        tokens = f"{usage.get('input_tokens', 0)}+{usage.get('output_tokens', 0)}" if isinstance(usage, dict) \
            else "-"
        lines = [f"<b>{n}</b>", f"type: {types.get(n, '?')}", f"status: {status}",
                 f"time: {rec['duration_ms']:.1f} ms" if rec.get("duration_ms") else "time: -",
                 f"tokens: {tokens}", f"in: {_preview(rec.get('inputs'))}", f"out: {_preview(rec.get('outputs'))}"]
        if rec.get("error"):
            lines.append(f"error: {_preview(rec['error'])}")
        hover.append("<br>".join(lines))
        line_colours.append(_HIGHLIGHT if n == current else "#ffffff")
        line_widths.append(4 if n == current else 1)
    fig = go.Figure(
        data=[
            {"type": "scatter", "x": fwd_x, "y": fwd_y, "mode": "lines", "name": "edges", "hoverinfo": "skip",
             "line": {"color": "#9e9e9e", "width": 2}},
            {"type": "scatter", "x": back_x, "y": back_y, "mode": "lines", "name": "back edges",
             "hoverinfo": "skip", "line": {"color": "#8e24aa", "width": 2, "dash": "dash"}},
            {"type": "scatter", "x": [pos[n][0] for n in nodes], "y": [pos[n][1] for n in nodes],
             "mode": "markers+text", "name": "nodes", "text": nodes, "textposition": "middle right",
             "customdata": nodes, "hovertext": hover, "hoverinfo": "text",
             "marker": {"size": 26, "color": colours, "line": {"color": line_colours, "width": line_widths}}},
        ],
        layout={"title": {"text": title or "execution graph"}, "showlegend": False, "height": 140 + 90 * (
            1 + max((-y for _, y in pos.values()), default=0)), "margin": {"l": 20, "r": 20, "t": 40, "b": 20},
            "xaxis": {"visible": False}, "yaxis": {"visible": False}, "plot_bgcolor": "#ffffff",
            "annotations": annotations,
            "meta": {"nodes": nodes, "edges": [[s, d, c] for s, d, _, c in edges], "statuses": statuses}},
        # the dicts above are built to the schema here; plotly's per-property validation would dominate the
        # build time of large graphs (benchmarks/bench_panels.py)
        _validate=False,
    )
    return fig


def live_graph(workflow: Any, **options: Any) -> go.FigureWidget:
    """A ``FigureWidget`` of the graph; clicking a node calls ``on_select(node_id)`` if given."""
    on_select = options.pop("on_select", None)
    widget = go.FigureWidget(graph_figure(workflow, **options))
    if on_select is not None:
        def clicked(trace: Any, points: Any, _state: Any) -> None:
            for i in points.point_inds:
                on_select(trace.customdata[i])
        widget.data[2].on_click(clicked)
    return widget


def update_graph(widget: go.FigureWidget, statuses: Mapping[str, str], *, current: str | None = None,
                 records: Mapping[str, Any] | None = None, workflow: Any = None) -> None:
    """Recolour (and re-hover) a live graph in place, in one batched update."""
    fresh = graph_figure(workflow, statuses, records=records, current=current) if workflow is not None else None
    nodes = list(widget.data[2].customdata)
    with widget.batch_update():
        widget.data[2].marker.color = [STATUS_COLORS.get(statuses.get(n, "pending"), "#bdbdbd") for n in nodes]
        widget.data[2].marker.line.color = [_HIGHLIGHT if n == current else "#ffffff" for n in nodes]
        widget.data[2].marker.line.width = [4 if n == current else 1 for n in nodes]
        if fresh is not None:
            widget.data[2].hovertext = fresh.data[2].hovertext
        widget.layout.meta = {**dict(widget.layout.meta or {}), "statuses": dict(statuses)}


def show_graph(workflow: Any, **options: Any) -> go.Figure:
    """The execution graph of a workflow, agent or pattern (anything with ``to_workflow``/``build_workflow``)."""
    if hasattr(workflow, "build_workflow"):
        workflow = workflow.build_workflow()
    elif hasattr(workflow, "to_workflow") and not hasattr(workflow, "graph"):
        workflow = workflow.to_workflow()
    return graph_figure(workflow, **options)
