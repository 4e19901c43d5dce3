"""Execution-graph panel: a layered drawing of a compiled workflow, each node's status by colour *and* icon.

``graph_geometry`` lays the graph out with grandalf's Sugiyama layout (layers, crossing reduction, long edges
routed through dummy points) in pixel units: node boxes sized to their full names, loop (cycle) edges routed
around the nodes on the right, edge labels placed where they touch no node and no other label. Both the
Plotly figure here and the debugger's SVG view draw from that geometry.

Pure: ``workflow (+ statuses, node records) -> go.Figure``, themed by ``kaizen_lab.notebook.theme``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from kaizen_lab.notebook.theme import FONT_FAMILY, STATUS_ICONS, palette, plotly_template

__all__ = ["STATUS_COLORS", "graph_figure", "graph_geometry", "live_graph", "show_graph", "update_graph"]

# light-theme status colours (kept for callers that want one fixed palette; figures use the theme's)
STATUS_COLORS: dict[str, str] = dict(palette("light")["status"])

NODE_H = 34
CHAR_W = 7.6          # generous width of one 12 px character, so a box always holds its full name
LABEL_CHAR_W = 6.8    # the same for 11 px edge labels
LABEL_H = 18
LABEL_MAX = 30        # longer edge labels are cut with "…" (the whole text is in the hover)
PAD = 16
_STATUSES = ("pending", "running", "done", "failed", "skipped")


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
    return _preview(values[0] if len(values) == 1 else values, 60) if values else ""


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


def _mapping_text(mapping: Mapping[str, str]) -> str:
    return ", ".join(f"{a}→{b}" if a != b else a for a, b in mapping.items())


class _VertexView:
    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _EdgeView:
    pts: list[tuple[float, float]]

    def setpath(self, pts: list[tuple[float, float]]) -> None:
        self.pts = list(pts)


def _clip(box: dict[str, float], toward: tuple[float, float]) -> tuple[float, float]:
    """The point where the segment from ``box``'s centre to ``toward`` leaves the box."""
    cx, cy = box["x"], box["y"]
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    sx = (box["w"] / 2) / abs(dx) if dx else float("inf")
    sy = (box["h"] / 2) / abs(dy) if dy else float("inf")
    s = min(sx, sy)
    return cx + dx * s, cy + dy * s


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], gap: float = 3) -> bool:
    """Boxes as (centre x, centre y, w, h)."""
    return abs(a[0] - b[0]) * 2 < a[2] + b[2] + 2 * gap and abs(a[1] - b[1]) * 2 < a[3] + b[3] + 2 * gap


def _point_at(points: list[tuple[float, float]], t: float) -> tuple[float, float]:
    """The point at fraction ``t`` of a polyline's length."""
    lengths = [((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False)]
    goal = sum(lengths) * t
    for (p0, p1), seg in zip(zip(points, points[1:], strict=False), lengths, strict=False):
        if goal <= seg and seg > 0:
            f = goal / seg
            return p0[0] + (p1[0] - p0[0]) * f, p0[1] + (p1[1] - p0[1]) * f
        goal -= seg
    return points[-1]


def _layout(nodes: list[str], edges: list[tuple[str, str, bool]], sizes: dict[str, tuple[float, float]]
            ) -> tuple[dict[str, tuple[float, float]], dict[int, list[tuple[float, float]]]]:
    """Centres of the nodes and the routed points of each forward edge (by index), via grandalf."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    vertices = {n: Vertex(n) for n in nodes}
    for n, v in vertices.items():
        v.view = _VertexView(*sizes[n])
    gedges: list[Any] = []
    index: dict[int, Any] = {}
    for i, (src, dst, cyc) in enumerate(edges):
        if src == dst:
            continue
        e = Edge(vertices[src], vertices[dst])
        e.view = _EdgeView()
        e.kaizen_cycle = cyc
        gedges.append(e)
        index[i] = e
    graph = Graph(list(vertices.values()), gedges)
    centres: dict[str, tuple[float, float]] = {}
    offset = 0.0
    for component in graph.C:
        sug = SugiyamaLayout(component)
        fan_in = max((sum(1 for e in component.sE if e.v[1] is v) for v in component.sV), default=1)
        sug.xspace, sug.yspace = 36, 64 + 26 * max(0, min(fan_in, 5) - 1)  # room to stack the edge labels
        declared = [e for e in component.sE if getattr(e, "kaizen_cycle", False)]
        forward_in = {e.v[1] for e in component.sE if not getattr(e, "kaizen_cycle", False)}
        roots = [v for v in component.sV if v not in forward_in]
        if roots:
            sug.init_all(roots=roots, inverted_edges=declared)
        else:  # an undeclared cycle: let grandalf pick the edges to invert
            sug.init_all()
        sug.draw()
        xs = [v.view.xy[0] - v.view.w / 2 for v in component.sV]
        shift = offset - min(xs)
        for v in component.sV:
            centres[v.data] = (v.view.xy[0] + shift, v.view.xy[1])
        for e in component.sE:
            if hasattr(e.view, "pts"):
                e.view.pts = [(x + shift, y) for x, y in e.view.pts]
        offset = max(centres[v.data][0] + v.view.w / 2 for v in component.sV) + 48
    routes = {i: list(e.view.pts) for i, e in index.items() if hasattr(e.view, "pts")}
    return centres, routes


def graph_geometry(nodes: list[str], edges: list[tuple[str, str, dict[str, str], bool]],
                   *, icons: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Pixel geometry of a graph: node boxes, edge polylines (arrow at the last point) and label boxes.

    ``icons`` (node → one character) widens each box for the status icon drawn before the name. Returns
    ``{"width", "height", "nodes": [{id, x, y, w, h}], "edges": [{src, dst, cycle, points, label, title,
    box}]}`` with y growing downwards and every box inside ``width`` × ``height``.
    """
    merged: dict[tuple[str, str, bool], dict[str, str]] = {}
    for src, dst, mapping, cyc in edges:
        merged.setdefault((src, dst, cyc), {}).update(mapping)
    edge_list = list(merged.items())
    sizes: dict[str, tuple[float, float]] = {n: (round(CHAR_W * (len(n) + 2) + 24), NODE_H) for n in nodes}
    if not nodes:
        return {"width": 0, "height": 0, "nodes": [], "edges": []}
    centres, routes = _layout(nodes, [(s, d, c) for (s, d, c), _ in edge_list], sizes)
    boxes = {n: {"x": centres[n][0], "y": centres[n][1], "w": sizes[n][0], "h": sizes[n][1]} for n in nodes}
    node_rects = [(b["x"], b["y"], b["w"] + 6, b["h"] + 6) for b in boxes.values()]
    out_edges: list[dict[str, Any]] = []
    loops = 0
    for i, ((src, dst, cyc), mapping) in enumerate(edge_list):
        a, b = boxes[src], boxes[dst]
        if src == dst:  # a self-loop: a small hook on the right side
            r = a["x"] + a["w"] / 2
            points = [(r, a["y"] - 8), (r + 26, a["y"] - 8), (r + 26, a["y"] + 8), (r, a["y"] + 8)]
        elif cyc:  # a loop edge: out of the right side, around every node in between, into the target's side
            lo, hi = sorted((a["y"], b["y"]))
            right = max(bx["x"] + bx["w"] / 2 for bx in boxes.values() if lo - 1 <= bx["y"] <= hi + 1)
            lane = right + 112 + 22 * loops  # beyond the space a node's stop label takes
            loops += 1
            points = [(a["x"] + a["w"] / 2, a["y"]), (lane, a["y"]), (lane, b["y"]), (b["x"] + b["w"] / 2, b["y"])]
        else:
            pts = routes.get(i) or [(a["x"], a["y"]), (b["x"], b["y"])]
            if (pts[0][0] - b["x"]) ** 2 + (pts[0][1] - b["y"]) ** 2 < (pts[0][0] - a["x"]) ** 2 + \
                    (pts[0][1] - a["y"]) ** 2:
                pts = pts[::-1]
            pts = [(a["x"], a["y"]), *pts[1:-1], (b["x"], b["y"])]
            points = [_clip(a, pts[1]), *pts[1:-1], _clip(b, pts[-2])]
        title = _mapping_text(mapping)
        label = title if len(title) <= LABEL_MAX else title[:LABEL_MAX - 1] + "…"
        out_edges.append({"src": src, "dst": dst, "cycle": cyc, "points": [list(p) for p in points],
                          "mapping": dict(mapping), "label": label, "title": title, "box": None})
    placed: list[tuple[float, float, float, float]] = []
    for edge in out_edges:
        if not edge["label"]:
            continue
        w, h = LABEL_CHAR_W * len(edge["label"]) + 12, LABEL_H
        pts = [tuple(p) for p in edge["points"]]
        candidates: list[tuple[float, float]] = []
        if edge["cycle"] and len(pts) == 4:  # beside the vertical lane, outside the nodes
            for t in (0.5, 0.3, 0.7, 0.15, 0.85):
                y = pts[1][1] + (pts[2][1] - pts[1][1]) * t
                candidates.append((pts[1][0] + w / 2 + 6, y))
        else:
            for t in (0.5, 0.3, 0.7, 0.2, 0.8):
                x, y = _point_at(pts, t)  # type: ignore[arg-type]
                candidates += [(x, y), (x + w / 2 + 8, y), (x - w / 2 - 8, y)]
        chosen = next((c for c in candidates
                       if not any(_overlaps((c[0], c[1], w, h), r) for r in node_rects + placed)), None)
        if chosen is None:  # nothing free near the edge: stack it below the drawing
            bottom = max([r[1] + r[3] / 2 for r in node_rects + placed], default=0.0)
            chosen = (_point_at(pts, 0.5)[0], bottom + h / 2 + 8)  # type: ignore[arg-type]
        placed.append((chosen[0], chosen[1], w, h))
        edge["box"] = [chosen[0], chosen[1], w, h]
    # normalise: everything inside [0, width] x [0, height]
    xs: list[float] = []
    ys: list[float] = []
    for bx in boxes.values():
        xs += [bx["x"] - bx["w"] / 2 - 8, bx["x"] + bx["w"] / 2 + 96]  # room right of a node for its stop label
        ys += [bx["y"] - bx["h"] / 2 - 6, bx["y"] + bx["h"] / 2 + 6]
    for edge in out_edges:
        xs += [p[0] for p in edge["points"]]
        ys += [p[1] for p in edge["points"]]
        if edge["box"]:
            cx, cy, w, h = edge["box"]
            xs += [cx - w / 2, cx + w / 2]
            ys += [cy - h / 2, cy + h / 2]
    dx, dy = PAD - min(xs), PAD - min(ys)
    for edge in out_edges:
        edge["points"] = [[round(x + dx, 1), round(y + dy, 1)] for x, y in edge["points"]]
        if edge["box"]:
            edge["box"] = [round(edge["box"][0] + dx, 1), round(edge["box"][1] + dy, 1), round(edge["box"][2], 1),
                           edge["box"][3]]
    return {"width": round(max(xs) - min(xs) + 2 * PAD), "height": round(max(ys) - min(ys) + 2 * PAD),
            "nodes": [{"id": n, "x": round(boxes[n]["x"] + dx, 1), "y": round(boxes[n]["y"] + dy, 1),
                       "w": boxes[n]["w"], "h": boxes[n]["h"]} for n in nodes],
            "edges": out_edges}


def _record(raw: Any) -> dict[str, Any]:
    return raw.to_dict() if raw is not None and hasattr(raw, "to_dict") else dict(raw or {})


def node_hover(node: str, node_type: str, status: str, rec: Mapping[str, Any]) -> str:
    """The compact hover of a node: name, type, status and time (details belong in the state panel)."""
    ms = rec.get("duration_ms")
    timing = f" · {ms:.1f} ms" if ms else ""
    return f"<b>{node}</b><br>{node_type}<br>{STATUS_ICONS.get(status, '')} {status}{timing}"


def graph_figure(workflow: Any, statuses: Mapping[str, str] | None = None, *,
                 records: Mapping[str, Any] | None = None, current: str | None = None,
                 title: str | None = None, breakpoints: Any = (), stop_reason: str | None = None,
                 theme: str | None = None) -> go.Figure:
    """The execution graph of ``workflow`` as a Plotly figure.

    Args:
        workflow: a ``Workflow``/``WorkflowBuilder``, a ``Stepper`` (its statuses and records are used), or
            ``{"nodes": {id: type}, "edges": [(src, dst, mapping, is_cycle)]}``.
        statuses: node id → ``pending``/``running``/``done``/``failed``/``skipped`` (default pending).
        records: node id → a ``NodeRecord`` or dict with ``duration_ms``, ``inputs``, ``outputs``, ``error``.
        current: the node to ring (the debugger's next node); ``stop_reason`` labels it ("breakpoint", ...).
        breakpoints: node ids drawn with a breakpoint mark.
        theme: ``"light"``/``"dark"`` (default: ``kaizen_lab.notebook.theme.current_theme()``).

    Traces: ``edges``, ``loop edges`` (dashed), ``nodes`` (one point per node, ``customdata`` = node id, text
    = icon + full name), then one legend entry per status. ``layout.meta`` holds ``nodes``, ``edges``,
    ``statuses`` and the pixel ``geometry``.
    """
    if hasattr(workflow, "status") and hasattr(workflow, "nodes") and hasattr(workflow, "order"):
        statuses = statuses or workflow.status()
        records = records or workflow.nodes
        current = current if current is not None else workflow.current_node
        breakpoints = breakpoints or getattr(workflow, "breakpoints", ())
    nodes, types, edges = _graph_data(workflow)
    statuses = {n: str((statuses or {}).get(n, "pending")) for n in nodes}
    records = records or {}
    p = palette(theme)
    geo = graph_geometry(nodes, edges)
    width, height = geo["width"], geo["height"]
    fwd_x: list[float | None] = []
    fwd_y: list[float | None] = []
    back_x: list[float | None] = []
    back_y: list[float | None] = []
    annotations: list[dict[str, Any]] = []
    for edge in geo["edges"]:
        pts = edge["points"]
        xs, ys = (back_x, back_y) if edge["cycle"] else (fwd_x, fwd_y)
        xs += [pt[0] for pt in pts[:-1]] + [None]
        ys += [pt[1] for pt in pts[:-1]] + [None]
        colour = p["accent"] if edge["cycle"] else p["line"]
        annotations.append({"x": pts[-1][0], "y": pts[-1][1], "ax": pts[-2][0], "ay": pts[-2][1],
                            "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "text": "",
                            "showarrow": True, "arrowhead": 2, "arrowsize": 1.1, "arrowwidth": 1.6,
                            "arrowcolor": colour, "standoff": 0, "startstandoff": 0, "name": "arrow"})
        if edge["box"]:
            flowed = _flowed(records.get(edge["src"]), edge["mapping"])
            tip = f"{edge['src']} → {edge['dst']}<br>{edge['title']}" + (f"<br>value: {flowed}" if flowed else "")
            annotations.append({"x": edge["box"][0], "y": edge["box"][1], "xref": "x", "yref": "y",
                                "text": edge["label"], "showarrow": False, "name": "edge-label",
                                "font": {"size": 11, "color": p["muted"]}, "bgcolor": p["label_bg"],
                                "bordercolor": p["grid"], "borderwidth": 1, "borderpad": 2,
                                "hovertext": tip})
    shapes: list[dict[str, Any]] = []
    hover: list[str] = []
    labels: list[str] = []
    for box in geo["nodes"]:
        n = box["id"]
        status = statuses[n]
        colour = str(p["status"].get(status, p["status"]["pending"]))
        x0, x1 = box["x"] - box["w"] / 2, box["x"] + box["w"] / 2
        y0, y1 = box["y"] - box["h"] / 2, box["y"] + box["h"] / 2
        shapes.append({"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1, "xref": "x", "yref": "y",
                       "line": {"color": colour, "width": 2, "dash": "dot" if status == "pending" else "solid"},
                       # a translucent status tint over the background keeps the label readable in both themes
                       "fillcolor": _tint(colour, 0.14), "layer": "below", "name": f"node:{n}"})
        if n == current:
            shapes.append({"type": "rect", "x0": x0 - 5, "x1": x1 + 5, "y0": y0 - 5, "y1": y1 + 5, "xref": "x",
                           "yref": "y", "line": {"color": p["ring"], "width": 3}, "name": f"current:{n}"})
            why = f"‖ {stop_reason}" if stop_reason else "▶ next"
            annotations.append({"x": x1 + 10, "y": box["y"], "xref": "x", "yref": "y", "xanchor": "left",
                                "yanchor": "middle", "text": why, "showarrow": False, "name": "stop-reason",
                                "font": {"size": 11, "color": p["ring"]}})
        if n in set(breakpoints or ()):
            shapes.append({"type": "circle", "x0": x0 - 6, "x1": x0 + 6, "y0": box["y"] - 6, "y1": box["y"] + 6,
                           "xref": "x", "yref": "y", "fillcolor": p["breakpoint"], "line": {"width": 0},
                           "name": f"breakpoint:{n}"})
        hover.append(node_hover(n, types.get(n, "?"), status, _record(records.get(n))))
        labels.append(f"{STATUS_ICONS.get(status, '')} {n}")
    data: list[dict[str, Any]] = [
        {"type": "scatter", "x": fwd_x, "y": fwd_y, "mode": "lines", "name": "edges", "hoverinfo": "skip",
         "line": {"color": p["line"], "width": 1.6}, "showlegend": False},
        {"type": "scatter", "x": back_x, "y": back_y, "mode": "lines", "name": "loop edges", "hoverinfo": "skip",
         "line": {"color": p["accent"], "width": 1.6, "dash": "dash"}, "showlegend": bool(back_x)},
        {"type": "scatter", "x": [b["x"] for b in geo["nodes"]], "y": [b["y"] for b in geo["nodes"]],
         "mode": "markers+text", "name": "nodes", "text": labels, "textposition": "middle center",
         "textfont": {"size": 12, "color": p["text"], "family": FONT_FAMILY}, "customdata": nodes,
         "hovertext": hover, "hoverinfo": "text", "showlegend": False,
         "marker": {"size": [max(b["h"], 10) for b in geo["nodes"]], "symbol": "square", "opacity": 0}},
    ]
    for status in _STATUSES:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "hoverinfo": "skip",
                     "name": f"{STATUS_ICONS[status]} {status}",
                     "marker": {"size": 11, "symbol": "square", "color": _tint(p["status"][status], 0.14),
                                "line": {"color": p["status"][status], "width": 2}}})
    # the plot area maps one data unit to one pixel (label boxes were placed in pixels); the legend sits in a
    # strip reserved at the bottom of the plot area, so Plotly never shrinks the area to fit it
    plot_w = max(width, 420)
    legend_h = 26 if plot_w >= 640 else 48
    fig = go.Figure(
        data=data,
        layout={"template": plotly_template(theme), "title": {"text": title or "execution graph"},
                "showlegend": True, "width": plot_w + 20, "height": height + legend_h + 52,
                "legend": {"orientation": "h", "x": 0, "y": 0, "yanchor": "bottom", "font": {"size": 11}},
                "margin": {"l": 10, "r": 10, "t": 44, "b": 8, "autoexpand": False},
                "xaxis": {"visible": False, "range": [0, plot_w], "fixedrange": True},
                "yaxis": {"visible": False, "range": [height + legend_h, 0], "fixedrange": True},
                "shapes": shapes, "annotations": annotations, "hovermode": "closest", "dragmode": False,
                "meta": {"nodes": nodes, "edges": [[s, d, c] for s, d, _, c in edges], "statuses": statuses,
                         "geometry": geo}},
        # the dicts above are built to the schema here; plotly's per-property validation would dominate the
        # build time of large graphs (benchmarks/bench_panels.py)
        _validate=False,
    )
    return fig


def _tint(colour: str, alpha: float) -> str:
    c = colour.lstrip("#")
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


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
                 records: Mapping[str, Any] | None = None, workflow: Any = None, **options: Any) -> None:
    """Redraw a live graph's statuses, ring and hovers in place, in one batched update."""
    source = workflow if workflow is not None else {
        "nodes": {n: "?" for n in widget.layout.meta["nodes"]}, "edges": widget.layout.meta["edges"]}
    fresh = graph_figure(source, statuses, records=records, current=current, **options)
    with widget.batch_update():
        widget.layout.shapes = fresh.layout.shapes
        widget.layout.annotations = fresh.layout.annotations
        widget.data[2].text = fresh.data[2].text
        widget.data[2].hovertext = fresh.data[2].hovertext
        widget.layout.meta = {**dict(widget.layout.meta or {}), "statuses": dict(fresh.layout.meta["statuses"])}


def show_graph(workflow: Any, **options: Any) -> go.Figure:
    """The execution graph of a workflow, agent or pattern (anything with ``to_workflow``/``build_workflow``)."""
    if hasattr(workflow, "build_workflow"):
        workflow = workflow.build_workflow()
    elif hasattr(workflow, "to_workflow") and not hasattr(workflow, "graph"):
        workflow = workflow.to_workflow()
    return graph_figure(workflow, **options)
