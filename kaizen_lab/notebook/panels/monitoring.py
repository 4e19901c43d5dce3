"""The monitoring dashboard as a figure: requests/s, latency p50/p95, error ratio, tokens/s, cost, alerts firing.

A pure builder over ``DashboardData`` (``kaizen_lab.monitoring.dashboard``); the live widget updates the same
traces in place. With no samples yet, the figure says so instead of drawing empty grids; with no priced model,
the cost panel says "n/a".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["TRACES", "monitoring_figure", "trace_values"]

#: (trace name, subplot row, col, colour, dash) in the order the traces are added
TRACES = (("requests/s", 1, 1, "#1f5fa8", None), ("p50 latency", 1, 2, "#1f5fa8", None),
          ("p95 latency", 1, 2, "#b3261e", "dash"), ("error ratio", 2, 1, "#b3261e", None),
          ("tokens/s", 2, 2, "#5b3a9e", None), ("cost (USD)", 3, 1, "#1e6b34", None))
_TITLES = ("requests per second", "latency (s)", "error ratio", "tokens per second", "cost so far (USD)",
           "alerts firing")


def trace_values(data: Any) -> list[tuple[list[datetime], list[Any]]]:
    """(x, y) for each of ``TRACES``, from ``DashboardData``."""
    x = [datetime.fromtimestamp(t, UTC) for t in data.t]
    series = (data.requests_per_s, data.latency_p50_s, data.latency_p95_s, data.error_ratio, data.tokens_per_s,
              data.cost_usd)
    return [(x, list(values)) for values in series]


def monitoring_figure(data: Any, alerts: Sequence[Any] = (), *, title: str = "monitoring") -> go.Figure:
    """The dashboard figure for ``DashboardData`` and the current alerts."""
    fig = make_subplots(rows=3, cols=2, subplot_titles=_TITLES, vertical_spacing=0.12, horizontal_spacing=0.1,
                        specs=[[{}, {}], [{}, {}], [{}, {"type": "table"}]])
    for (name, row, col, colour, dash), (x, y) in zip(TRACES, trace_values(data), strict=True):
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers", connectgaps=False,
                                 line={"color": colour, "dash": dash}, marker={"size": 4},
                                 hovertemplate=f"{name}: %{{y:.3g}}<extra></extra>"), row=row, col=col)
    firing = [a for a in alerts if getattr(a, "state", "") == "firing"]
    cells = ([[a.rule for a in firing], [a.severity for a in firing], [a.summary for a in firing]] if firing
             else [["none"], [""], ["every rule is quiet"]])
    fig.add_trace(go.Table(header={"values": ["alert", "severity", "what"], "align": "left"},
                           cells={"values": cells, "align": "left"}, columnwidth=[2, 1, 4]), row=3, col=2)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    notes = []
    if not data.t:
        notes.append("no samples yet — run an agent, metrics appear after the next evaluation")
    if data.t and all(c is None for c in data.cost_usd):
        notes.append("cost: n/a (no priced model)")
    fig.update_layout(title=title, height=720, showlegend=False, margin={"l": 50, "r": 20, "t": 70, "b": 40},
                      annotations=[*fig.layout.annotations,
                                   *({"text": n, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5,
                                      "y": 1.07 - 0.04 * i, "font": {"size": 12}} for i, n in enumerate(notes))])
    return fig
