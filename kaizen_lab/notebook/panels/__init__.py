"""Plotly panels: pure builders (events/workflows → ``go.Figure``), live ``FigureWidget``s, offline HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaizen_lab.notebook.panels.graph import STATUS_COLORS, graph_figure, live_graph, show_graph, update_graph
from kaizen_lab.notebook.panels.mcp import mcp_figure
from kaizen_lab.notebook.panels.optimization import optimization_figure
from kaizen_lab.notebook.panels.performance import (
    cache_figure,
    compare_figure,
    latency_figure,
    live_timeline,
    performance_figure,
    timeline_figure,
    tokens_figure,
)

__all__ = [
    "STATUS_COLORS", "cache_figure", "compare_figure", "graph_figure", "latency_figure", "live_graph", "live_timeline",
    "mcp_figure", "optimization_figure", "performance_figure", "show_graph", "timeline_figure", "to_html", "tokens_figure",
    "update_graph",
]


def to_html(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` as a standalone HTML page with plotly.js embedded (opens offline, no CDN)."""
    path = Path(path)
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
