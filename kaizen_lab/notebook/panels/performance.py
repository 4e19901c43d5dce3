"""Performance panels built from the event stream: timeline, latency distribution, tokens/cost, cache, compare.

Each builder takes events (``ExecutionResult.events``, a ``Stepper``'s history, or dicts from
``event_to_dict``) and returns a ``go.Figure``; nothing here reads agent internals.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from kaizen_lab.notebook.theme import STATUS_ICONS, palette, plotly_template

__all__ = ["cache_figure", "compare_figure", "latency_figure", "live_timeline", "percentile",
           "performance_figure", "timeline_figure", "tokens_figure"]


def _get(event: Any, name: str, default: Any = None) -> Any:
    return event.get(name, default) if isinstance(event, Mapping) else getattr(event, name, default)


def _events(source: Any) -> list[Any]:
    if hasattr(source, "events") and not isinstance(source, dict):  # results, traces (a result is a Mapping)
        return list(source.events)
    return list(source)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0–100) with linear interpolation (numpy's default), no numpy needed."""
    if not values:
        raise ValueError("percentile of no values")
    data = sorted(values)
    k = (len(data) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def empty_state(fig: go.Figure, message: str) -> go.Figure:
    """Replace a figure's empty grid by a message (axes hidden); ``layout.meta["empty"]`` holds it."""
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False},
                      annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                                    "x": 0.5, "y": 0.5, "font": {"size": 14}, "name": "empty-state"}],
                      meta={**dict(fig.layout.meta or {}), "empty": message})
    return fig


NO_RUNS = "no runs yet — run an agent first"
_KINDS = (("step", "steps"), ("model", "model calls"), ("tool", "tool calls"))


def timeline_figure(source: Any, *, title: str = "run timeline", theme: str | None = None) -> go.Figure:
    """A Gantt chart of one run: a bar per finished step (or per ``NodeRecord`` of a ``Stepper``), and a bar
    per model and tool call, coloured by kind; failed bars are the error colour, hatched and marked ✗.

    y = label, base = start offset (ms from the first start), x = duration (ms). Traces: steps, model calls,
    tool calls (in that order, each possibly empty).
    """
    p = palette(theme)
    rows: list[tuple[str, str, float, float, str]] = []  # kind, label, start, duration, status
    if hasattr(source, "history") and hasattr(source, "order"):  # a Stepper: one bar per node execution
        for rec in source.history:
            if rec.started_at is not None:
                rows.append(("step", rec.node_id + (f" #{rec.iteration}" if rec.iteration else ""),
                             rec.started_at * 1000, rec.duration_ms, rec.status))
    else:
        for e in _events(source):
            kind = _get(e, "kind")
            if kind not in ("step_finished", "model_called", "tool_called"):
                continue
            dur = float(_get(e, "duration_ms", 0.0) or 0.0)
            failed = _get(e, "status", "ok") != "ok" or bool(_get(e, "error"))
            if kind == "step_finished":
                label = str(_get(e, "name") or _get(e, "step"))
                rows.append(("step", label, float(_get(e, "ts")) * 1000 - dur, dur, "failed" if failed else "done"))
            elif kind == "model_called":
                rows.append(("model", f"  model {_get(e, 'model')}", float(_get(e, "ts")) * 1000 - dur, dur,
                             "failed" if failed else "done"))
            else:
                rows.append(("tool", f"  tool {_get(e, 'tool')}", float(_get(e, "ts")) * 1000 - dur, dur,
                             "failed" if failed else "done"))
    t0 = min((r[2] for r in rows), default=0.0)
    # unique y labels in time order (a model call sits under its step)
    order = sorted(range(len(rows)), key=lambda i: (rows[i][2], 0 if rows[i][0] == "step" else 1))
    seen: dict[str, int] = {}
    labels = [""] * len(rows)
    for i in order:
        base = f"{STATUS_ICONS['failed']} {rows[i][1]}" if rows[i][4] == "failed" else rows[i][1]
        seen[base] = seen.get(base, 0) + 1
        labels[i] = base if seen[base] == 1 else f"{base} ({seen[base]})"
    traces = []
    for kind, name in _KINDS:
        idx = [i for i in order if rows[i][0] == kind]
        failed = [rows[i][4] == "failed" for i in idx]
        traces.append(go.Bar(
            y=[labels[i] for i in idx], x=[rows[i][3] for i in idx], base=[rows[i][2] - t0 for i in idx],
            orientation="h", name=name, showlegend=bool(idx),
            marker={"color": [p["kinds"]["error"] if f else p["kinds"][kind] for f in failed],
                    "pattern": {"shape": ["x" if f else "" for f in failed]}},
            customdata=[rows[i][4] for i in idx],
            hovertemplate="%{y}<br>%{customdata}<br>start %{base:.1f} ms<br>%{x:.2f} ms<extra></extra>"))
    fig = go.Figure(traces)
    fig.update_layout(template=plotly_template(theme), title=title, xaxis_title="ms since start",
                      yaxis={"autorange": "reversed", "categoryorder": "array",
                             "categoryarray": [labels[i] for i in order]},
                      height=140 + 24 * max(len(rows), 1), margin={"l": 150, "r": 20, "t": 40, "b": 40},
                      barmode="overlay", legend={"orientation": "h", "y": -0.15})
    if not rows:
        empty_state(fig, "no steps recorded yet — run an agent first")
    return fig


def _durations(runs: Iterable[Any]) -> list[float]:
    out = []
    for run in runs:
        if isinstance(run, int | float):
            out.append(float(run))
        elif hasattr(run, "metadata"):
            out.append(float(run.metadata.duration_ms))
        else:
            for e in _events(run) if not (isinstance(run, Mapping) or _get(run, "kind")) else [run]:
                if _get(e, "kind") == "run_finished":
                    out.append(float(_get(e, "duration_ms", 0.0)))
    return out


def latency_figure(runs: Iterable[Any], *, title: str = "latency", theme: str | None = None) -> go.Figure:
    """Histogram of run latencies with p50/p95 lines; ``runs`` are results, ``RunFinished`` events or ms."""
    p = palette(theme)
    values = _durations(runs)
    fig = go.Figure(go.Histogram(x=values, name="runs", marker={"color": p["kinds"]["agent"]}))
    meta: dict[str, float] = {"count": len(values)}
    fig.update_layout(template=plotly_template(theme), title=title, xaxis_title="ms", yaxis_title="runs",
                      meta=meta, height=320)
    if values:
        for q, colour, dash in ((50, p["status"]["done"], "dash"), (95, p["status"]["failed"], "dot")):
            v = percentile(values, q)
            meta[f"p{q}"] = v
            fig.add_vline(x=v, line={"color": colour, "dash": dash}, annotation_text=f"p{q} {v:.1f} ms")
        fig.update_layout(meta=meta)
    else:
        empty_state(fig, NO_RUNS)
    return fig


def _model_calls(source: Any) -> list[Any]:
    return [e for e in _all_events(source) if _get(e, "kind") == "model_called"]


def _all_events(source: Any) -> list[Any]:
    out: list[Any] = []
    for item in source if isinstance(source, list | tuple) else [source]:
        out.extend(_events(item) if hasattr(item, "events") or isinstance(item, list | tuple) else [item])
    return out


def tokens_figure(source: Any, *, by: str = "model", title: str = "tokens and cost",
                  theme: str | None = None) -> go.Figure:
    """Input/output tokens (bars) and cost (line, right axis) per model (``by="model"``), per agent
    (``by="agent"``, from each run's ``RunStarted``) or per run (``by="run_id"``).

    A cost the provider did not report stays unknown: such a group's cost point is left out and its bar is
    labelled "cost n/a"; when no group has a known cost there is no cost axis at all.
    """
    p = palette(theme)
    agents = {_get(e, "run_id"): _get(e, "agent_id") for e in _all_events(source) if _get(e, "kind") == "run_started"}
    totals: dict[str, list[Any]] = {}
    for e in _model_calls(source):
        key = str((agents.get(_get(e, "run_id")) if by == "agent" else _get(e, by)) or "?")
        t = totals.setdefault(key, [0.0, 0.0, None])
        t[0] += _get(e, "input_tokens", 0) or 0
        t[1] += _get(e, "output_tokens", 0) or 0
        cost = _get(e, "cost")
        if cost is not None:
            t[2] = (t[2] or 0.0) + float(cost)
    keys = list(totals)
    known = [k for k in keys if totals[k][2] is not None]
    cost_text = [f"${totals[k][2]:.4f}" if totals[k][2] is not None else "cost n/a" for k in keys]
    traces: list[Any] = [
        go.Bar(x=keys, y=[totals[k][0] for k in keys], name="input tokens", marker={"color": p["series"][0]}),
        go.Bar(x=keys, y=[totals[k][1] for k in keys], name="output tokens", marker={"color": p["series"][1]},
               text=cost_text, textposition="outside", cliponaxis=False),
        go.Scatter(x=known, y=[totals[k][2] for k in known], name="cost ($)", yaxis="y2" if known else "y",
                   mode="lines+markers",
                   marker={"color": p["series"][2], "symbol": "diamond"}, visible=bool(known)),
    ]
    fig = go.Figure(traces)
    fig.update_layout(template=plotly_template(theme), title=title, barmode="stack", yaxis_title="tokens",
                      height=320, meta={"cost": {k: totals[k][2] for k in keys}})
    if known:
        fig.update_layout(yaxis2={"title": "cost ($)", "overlaying": "y", "side": "right", "rangemode": "tozero"})
    if not keys:
        empty_state(fig, "no model calls yet — run an agent first")
    return fig


def cache_figure(source: Any, *, title: str = "cache hit rate", theme: str | None = None) -> go.Figure:
    """Share of model calls answered from the cache (an indicator, plus hits/misses in ``layout.meta``)."""
    p = palette(theme)
    calls = _model_calls(source)
    hits = sum(1 for e in calls if _get(e, "cache_hit"))
    rate = hits / len(calls) if calls else 0.0
    fig = go.Figure(go.Pie(labels=["hits", "misses"], values=[hits, len(calls) - hits], hole=0.55,
                           marker={"colors": [p["status"]["done"], p["status"]["pending"]]}, sort=False))
    fig.update_layout(template=plotly_template(theme), title=f"{title}: {rate:.0%} of {len(calls)} calls",
                      height=300, meta={"hits": hits, "calls": len(calls), "rate": rate})
    if not calls:
        empty_state(fig, "no model calls yet — run an agent first")
    return fig


def live_timeline(*, agent_id: str | None = None, title: str = "live run") -> go.FigureWidget:
    """A ``FigureWidget`` Gantt that grows as steps finish (any run, or only ``agent_id``'s runs).

    Fed by a process-wide event listener; call ``widget.stop()``-like ``widget._kaizen_stop()`` to detach.
    """
    widget = go.FigureWidget(timeline_figure([], title=title))
    rows: list[Any] = []
    runs: dict[str, str] = {}

    def on_event(event: Any) -> None:
        if event.kind == "run_started":
            runs[event.run_id] = event.agent_id
        elif event.kind == "step_finished" and (agent_id is None or runs.get(event.run_id) == agent_id):
            rows.append(event)
            fresh_fig = timeline_figure(rows, title=title)
            fresh = fresh_fig.data[0]
            with widget.batch_update():
                widget.data[0].x, widget.data[0].y, widget.data[0].base = fresh.x, fresh.y, fresh.base
                widget.data[0].marker.color = fresh.marker.color
                widget.data[0].customdata = fresh.customdata
                widget.layout.annotations = ()
                widget.layout.yaxis.categoryarray = fresh_fig.layout.yaxis.categoryarray
                widget.layout.xaxis.visible = widget.layout.yaxis.visible = True
                widget.layout.height = 140 + 24 * max(len(rows), 1)

    from kaizen_lab import events as ev

    widget._kaizen_stop = ev.add_listener(on_event)  # type: ignore[attr-defined]
    return widget


def _summary(runs: Sequence[Any]) -> dict[str, float]:
    durations = _durations(runs)
    calls = _model_calls(list(runs))
    n = max(len(durations), 1)
    return {"p50 ms": percentile(durations, 50) if durations else 0.0,
            "p95 ms": percentile(durations, 95) if durations else 0.0,
            "tokens/run": sum((_get(e, "input_tokens", 0) or 0) + (_get(e, "output_tokens", 0) or 0)
                              for e in calls) / n,
            "model calls/run": len(calls) / n}


def compare_figure(before: Any, after: Any, *, labels: tuple[str, str] = ("before", "after"),
                   title: str = "before / after", theme: str | None = None) -> go.Figure:
    """Grouped bars comparing two sets of runs (or two ``{metric: value}`` dicts), one group per metric."""
    a = dict(before) if isinstance(before, Mapping) else _summary(list(before))
    b = dict(after) if isinstance(after, Mapping) else _summary(list(after))
    metrics = [m for m in a if m in b]
    p = palette(theme)
    fig = go.Figure([go.Bar(x=metrics, y=[a[m] for m in metrics], name=labels[0],
                            marker={"color": p["status"]["pending"]}),
                     go.Bar(x=metrics, y=[b[m] for m in metrics], name=labels[1], marker={"color": p["accent"]})])
    change = {m: (b[m] - a[m]) / a[m] if a[m] else 0.0 for m in metrics}
    fig.update_layout(template=plotly_template(theme), title=title, barmode="group", height=320,
                      meta={"before": a, "after": b, "change": change})
    if not metrics:
        empty_state(fig, "nothing to compare yet")
    return fig


def performance_figure(runs: Sequence[Any], *, title: str = "performance", theme: str | None = None) -> go.Figure:
    """One dashboard: timeline of the last run, latency over all runs, tokens/cost, cache hit rate."""
    from plotly.subplots import make_subplots

    runs = list(runs)
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"secondary_y": True}, {"type": "domain"}]],
                        subplot_titles=("last run", "latency", "tokens and cost", "cache"))
    if runs:
        for trace in timeline_figure(runs[-1]).data:
            fig.add_trace(trace, row=1, col=1)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
    lat = latency_figure(runs)
    fig.add_trace(lat.data[0], row=1, col=2)
    tok = tokens_figure(runs)
    fig.add_trace(tok.data[0], row=2, col=1)
    fig.add_trace(tok.data[1], row=2, col=1)
    cost = tok.data[2]
    if cost.visible:  # unknown cost: no cost axis; the bars say "cost n/a"
        fig.add_trace(go.Scatter(x=cost.x, y=cost.y, name="cost ($)", mode="lines+markers"), row=2, col=1,
                      secondary_y=True)
    else:
        fig.update_yaxes(visible=False, row=2, col=1, secondary_y=True)
    fig.add_trace(cache_figure(runs).data[0], row=2, col=2)
    durations = _durations(runs)
    stats: dict[str, float] = {"runs": len(durations)}
    if durations:
        stats |= {"p50": percentile(durations, 50), "p95": percentile(durations, 95),
                  "mean": statistics.fmean(durations)}
    fig.update_layout(template=plotly_template(theme), title=title, barmode="stack", height=620, showlegend=False,
                      meta=stats)
    if not durations:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=NO_RUNS, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                           font={"size": 14}, name="empty-state")
        fig.update_layout(meta={**stats, "empty": NO_RUNS})
    return fig
