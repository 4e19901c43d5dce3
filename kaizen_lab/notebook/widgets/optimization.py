"""A live view of a prompt optimization: progress, the best score so far, and a score chart per candidate.

Pass ``view.callback`` as the optimizer's ``progress=``; after the run, ``view.show_report(report)`` adds the
before/after comparison. Built on ipywidgets and a Plotly ``FigureWidget`` updated as candidates finish.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

__all__ = ["OptimizationProgress"]


class OptimizationProgress(widgets.VBox):
    """Progress of a ``PromptOptimizer`` run; ``expected`` is the number of candidates if known."""

    def __init__(self, expected: int | None = None) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=max(1, expected or 1), description="candidates")
        self.status = widgets.HTML("<i>waiting for the first candidate…</i>")
        self.chart = go.FigureWidget(
            data=[go.Bar(x=[], y=[], name="score", marker={"color": []})],
            layout={"title": "validation score per candidate", "yaxis": {"range": [0, 1.05]}, "height": 300})
        self.events: list[dict[str, Any]] = []
        self._expected = expected
        super().__init__([self.bar, self.status, self.chart])

    def callback(self, event: dict[str, Any]) -> None:
        """The optimizer's ``progress`` hook: one call per scored candidate."""
        self.events.append(dict(event))
        n = len(self.events)
        if self._expected is None or n > self.bar.max:
            self.bar.max = max(n, self.bar.max)
        self.bar.value = n
        best = max(self.events, key=lambda e: e["score"])
        self.status.value = (f"{n} candidates · best <b>{best['score']:.3f}</b> ({best['candidate']}) · "
                             f"{event['calls_used']} model calls")
        baseline = self.events[0]["score"]
        with self.chart.batch_update():
            bar = self.chart.data[0]
            bar.x = [e["candidate"] for e in self.events]
            bar.y = [e["score"] for e in self.events]
            bar.marker.color = ["#9e9e9e" if i == 0 else ("#43a047" if e["score"] > baseline else "#1e88e5")
                                for i, e in enumerate(self.events)]

    def show_report(self, report: Any) -> None:
        """Append the before/after comparison of a finished ``OptimizationReport``."""
        from kaizen_lab.notebook.panels.performance import compare_figure

        before = {"score": report.baseline.mean, "ci_low": report.baseline.ci[0], "ci_high": report.baseline.ci[1]}
        after = {"score": report.optimized.mean, "ci_low": report.optimized.ci[0], "ci_high": report.optimized.ci[1]}
        figure = compare_figure(before, after, labels=("baseline", report.winner.name),
                                title=f"before / after ({report.improvement:+.3f})")
        self.children = (*tuple(self.children), go.FigureWidget(figure))  # type: ignore[has-type]
