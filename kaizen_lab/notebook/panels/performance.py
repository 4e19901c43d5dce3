"""Performance panels built from the event stream: timeline, latency distribution, tokens/cost, cache, compare.

Each builder takes events (``ExecutionResult.events``, a ``Stepper``'s history, or dicts from
``event_to_dict``) and returns a ``go.Figure``; nothing here reads agent internals.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from kaizen_lab.notebook.panels.graph import STATUS_COLORS

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


def timeline_figure(source: Any, *, title: str = "run timeline") -> go.Figure:
    """A Gantt chart of one run: one bar per finished step (or per ``NodeRecord`` of a ``Stepper``).

    y = step name, base = start offset (ms from the first start), x = duration (ms); failed steps are red.
    """
    rows: list[tuple[str, float, float, str]] = []
    if hasattr(source, "history") and hasattr(source, "order"):  # a Stepper: one bar per node execution
        for rec in source.history:
            if rec.started_at is not None:
                rows.append((rec.node_id + (f" #{rec.iteration}" if rec.iteration else ""),
                             rec.started_at * 1000, rec.duration_ms, rec.status))
    else:
        for e in _events(source):
            if _get(e, "kind") == "step_finished":
                dur = float(_get(e, "duration_ms", 0.0))
                label = _get(e, "name") or _get(e, "step")
                rows.append((str(label), float(_get(e, "ts")) * 1000 - dur, dur,
                             "done" if _get(e, "status") == "ok" else "failed"))
    t0 = min((r[1] for r in rows), default=0.0)
    fig = go.Figure(go.Bar(
        y=[r[0] for r in rows], x=[r[2] for r in rows], base=[r[1] - t0 for r in rows], orientation="h",
        marker={"color": [STATUS_COLORS.get(r[3], "#757575") for r in rows]}, name="steps",
        hovertemplate="%{y}<br>start %{base:.1f} ms<br>%{x:.2f} ms<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="ms since start", yaxis={"autorange": "reversed"},
                      height=120 + 28 * max(len(rows), 1), margin={"l": 120, "r": 20, "t": 40, "b": 40})
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


def latency_figure(runs: Iterable[Any], *, title: str = "latency") -> go.Figure:
    """Histogram of run latencies with p50/p95 lines; ``runs`` are results, ``RunFinished`` events or ms."""
    values = _durations(runs)
    fig = go.Figure(go.Histogram(x=values, name="runs", marker={"color": "#1e88e5"}))
    meta: dict[str, float] = {"count": len(values)}
    if values:
        for q, colour in ((50, "#43a047"), (95, "#e53935")):
            v = percentile(values, q)
            meta[f"p{q}"] = v
            fig.add_vline(x=v, line={"color": colour, "dash": "dash"}, annotation_text=f"p{q} {v:.1f} ms")
    fig.update_layout(title=title, xaxis_title="ms", yaxis_title="runs", meta=meta, height=320)
    return fig


def _model_calls(source: Any) -> list[Any]:
    return [e for e in _all_events(source) if _get(e, "kind") == "model_called"]


def _all_events(source: Any) -> list[Any]:
    out: list[Any] = []
    for item in source if isinstance(source, list | tuple) else [source]:
        out.extend(_events(item) if hasattr(item, "events") or isinstance(item, list | tuple) else [item])
    return out


def tokens_figure(source: Any, *, by: str = "model", title: str = "tokens and cost") -> go.Figure:
    """Input/output tokens (bars) and cost (line, right axis) per model (``by="model"``), per agent
    (``by="agent"``, from each run's ``RunStarted``) or per run (``by="run_id"``)."""
    agents = {_get(e, "run_id"): _get(e, "agent_id") for e in _all_events(source) if _get(e, "kind") == "run_started"}
    totals: dict[str, list[float]] = {}
    for e in _model_calls(source):
        key = str((agents.get(_get(e, "run_id")) if by == "agent" else _get(e, by)) or "?")
        t = totals.setdefault(key, [0.0, 0.0, 0.0])
        t[0] += _get(e, "input_tokens", 0) or 0
        t[1] += _get(e, "output_tokens", 0) or 0
        t[2] += _get(e, "cost", 0.0) or 0.0
    keys = list(totals)
    fig = go.Figure([
        go.Bar(x=keys, y=[totals[k][0] for k in keys], name="input tokens", marker={"color": "#1e88e5"}),
        go.Bar(x=keys, y=[totals[k][1] for k in keys], name="output tokens", marker={"color": "#43a047"}),
        go.Scatter(x=keys, y=[totals[k][2] for k in keys], name="cost ($)", yaxis="y2", mode="lines+markers",
                   marker={"color": "#e53935"}),
    ])
    fig.update_layout(title=title, barmode="stack", yaxis_title="tokens", height=320,
                      yaxis2={"title": "cost ($)", "overlaying": "y", "side": "right"})
    return fig


def cache_figure(source: Any, *, title: str = "cache hit rate") -> go.Figure:
    """Share of model calls answered from the cache (an indicator, plus hits/misses in ``layout.meta``)."""
    calls = _model_calls(source)
    hits = sum(1 for e in calls if _get(e, "cache_hit"))
    rate = hits / len(calls) if calls else 0.0
    fig = go.Figure(go.Pie(labels=["hits", "misses"], values=[hits, len(calls) - hits], hole=0.55,
                           marker={"colors": ["#43a047", "#bdbdbd"]}, sort=False))
    fig.update_layout(title=f"{title}: {rate:.0%} of {len(calls)} calls", height=300,
                      meta={"hits": hits, "calls": len(calls), "rate": rate})
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
            fresh = timeline_figure(rows, title=title).data[0]
            with widget.batch_update():
                widget.data[0].x, widget.data[0].y, widget.data[0].base = fresh.x, fresh.y, fresh.base
                widget.data[0].marker.color = fresh.marker.color
                widget.layout.height = 120 + 28 * max(len(rows), 1)

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
                   title: str = "before / after") -> go.Figure:
    """Grouped bars comparing two sets of runs (or two ``{metric: value}`` dicts), one group per metric."""
    a = dict(before) if isinstance(before, Mapping) else _summary(list(before))
    b = dict(after) if isinstance(after, Mapping) else _summary(list(after))
    metrics = [m for m in a if m in b]
    fig = go.Figure([go.Bar(x=metrics, y=[a[m] for m in metrics], name=labels[0], marker={"color": "#9e9e9e"}),
                     go.Bar(x=metrics, y=[b[m] for m in metrics], name=labels[1], marker={"color": "#1e88e5"})])
    change = {m: (b[m] - a[m]) / a[m] if a[m] else 0.0 for m in metrics}
    fig.update_layout(title=title, barmode="group", height=320, meta={"before": a, "after": b, "change": change})
    return fig


def performance_figure(runs: Sequence[Any], *, title: str = "performance") -> go.Figure:
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
    fig.add_trace(go.Scatter(x=cost.x, y=cost.y, name="cost ($)", mode="lines+markers"), row=2, col=1,
                  secondary_y=True)
    fig.add_trace(cache_figure(runs).data[0], row=2, col=2)
    durations = _durations(runs)
    stats: dict[str, float] = {"runs": len(durations)}
    if durations:
        stats |= {"p50": percentile(durations, 50), "p95": percentile(durations, 95),
                  "mean": statistics.fmean(durations)}
    fig.update_layout(title=title, barmode="stack", height=620, showlegend=False, meta=stats)
    return fig
