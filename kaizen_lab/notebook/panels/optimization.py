"""Optimization panel: each candidate's score with its confidence interval, the best score so far, the winner.

Pure: ``progress events (dicts from PromptOptimizer's progress hook) -> go.Figure``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from kaizen_lab.notebook.theme import palette, plotly_template

__all__ = ["optimization_figure"]


def optimization_figure(events: Iterable[Mapping[str, Any]], *, winner: str | None = None,
                        title: str = "validation score per candidate", theme: str | None = None) -> go.Figure:
    """Traces: ``candidates`` (markers with asymmetric error bars from each ``ci``), ``best so far`` (a step
    line), ``winner`` (a star on the winning candidate: ``winner`` or, while running, the best so far).
    ``layout.meta`` holds ``best`` and ``winner``."""
    p = palette(theme)
    rows = [dict(e) for e in events if "candidate" in e]
    names = [str(e["candidate"]) for e in rows]
    scores = [float(e["score"]) for e in rows]
    lows = [float((e.get("ci") or (s, s))[0]) for e, s in zip(rows, scores, strict=False)]
    highs = [float((e.get("ci") or (s, s))[1]) for e, s in zip(rows, scores, strict=False)]
    best: list[float] = []
    for s in scores:
        best.append(max(s, best[-1]) if best else s)
    if winner is None and rows:
        winner = names[max(range(len(rows)), key=lambda i: (scores[i], -i))]
    w = names.index(winner) if winner in names else None
    kinds = [str(e.get("kind", "")) for e in rows]
    fig = go.Figure([
        go.Scatter(x=names, y=scores, mode="markers", name="candidates",
                   marker={"size": 10, "color": [p["status"]["pending"] if k == "baseline" else p["accent"]
                                                 for k in kinds],
                           "symbol": ["square" if k == "baseline" else "circle" for k in kinds]},
                   error_y={"type": "data", "symmetric": False, "array": [h - s for h, s in zip(highs, scores, strict=False)],
                            "arrayminus": [s - lo for s, lo in zip(scores, lows, strict=False)], "color": p["line"],
                            "thickness": 1.5, "width": 5},
                   customdata=[[k, lo, h] for k, lo, h in zip(kinds, lows, highs, strict=False)],
                   hovertemplate="%{x} (%{customdata[0]})<br>score %{y:.3f}<br>95% CI "
                                 "[%{customdata[1]:.3f}, %{customdata[2]:.3f}]<extra></extra>"),
        go.Scatter(x=names, y=best, mode="lines", name="best so far", line={"shape": "hv", "color":
                   p["status"]["done"], "dash": "dash", "width": 2}, hoverinfo="skip"),
        go.Scatter(x=[names[w]] if w is not None else [], y=[scores[w]] if w is not None else [],
                   mode="markers+text", name="winner", text=["★ winner"] if w is not None else [],
                   textposition="top center", hoverinfo="skip",
                   marker={"size": 18, "symbol": "star", "color": p["status"]["done"],
                           "line": {"color": p["text"], "width": 1}}),
    ])
    fig.update_layout(template=plotly_template(theme), title=title, height=340,
                      yaxis={"range": [-0.05, 1.12], "title": "score"}, xaxis={"tickangle": -30},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
                      margin={"l": 50, "r": 20, "t": 60, "b": 90},
                      meta={"best": best[-1] if best else None, "winner": winner})
    if not rows:
        fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False},
                          annotations=[{"text": "waiting for the first candidate…", "showarrow": False,
                                        "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                                        "name": "empty-state"}])
    return fig
