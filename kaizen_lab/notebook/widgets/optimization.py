"""A live view of a prompt optimization: a progress bar that ends, the best score so far, and a chart of each
candidate's score with its confidence interval (error bars), the best-so-far line and the winner starred.

Pass ``view.callback`` as the optimizer's ``progress=``; after the run, ``view.show_report(report)`` closes the
bar, stars the winner and adds the before/after comparison. Built on ipywidgets and a Plotly ``FigureWidget``
updated as candidates finish.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

__all__ = ["OptimizationProgress"]


class OptimizationProgress(widgets.VBox):
    """Progress of a ``PromptOptimizer`` run; ``expected`` is the number of candidates if known."""

    def __init__(self, expected: int | None = None) -> None:
        from kaizen_lab.notebook.panels.optimization import optimization_figure

        self.bar = widgets.IntProgress(value=0, min=0, max=max(1, expected or 1), description="candidates",
                                       bar_style="info")
        self.status = widgets.HTML("<i>waiting for the first candidate…</i>")
        self.status.add_class("kaizen-optimization-status")
        self.chart = go.FigureWidget(optimization_figure([]))
        self.events: list[dict[str, Any]] = []
        self.done = False
        self._expected = expected
        super().__init__([widgets.HBox([self.bar, self.status]), self.chart])
        self.add_class("kaizen-optimization-progress")

    def _redraw(self, winner: str | None = None) -> None:
        from kaizen_lab.notebook.panels.optimization import optimization_figure

        fresh = optimization_figure(self.events, winner=winner)
        with self.chart.batch_update():
            for mine, new in zip(self.chart.data, fresh.data, strict=False):
                mine.update(new.to_plotly_json())
            self.chart.layout.annotations = fresh.layout.annotations
            self.chart.layout.xaxis.visible = self.chart.layout.yaxis.visible = bool(self.events)
            self.chart.layout.meta = fresh.layout.meta

    def callback(self, event: dict[str, Any]) -> None:
        """The optimizer's ``progress`` hook: one call per scored candidate."""
        self.events.append(dict(event))
        n = len(self.events)
        if self._expected is None or n > self.bar.max:
            self.bar.max = max(n + 1, self.bar.max)  # unknown total: the bar stays open until show_report
        self.bar.value = n
        best = max(self.events, key=lambda e: e["score"])
        self.status.value = (f"{n} candidates · best <b>{best['score']:.3f}</b> ({html.escape(best['candidate'])})"
                             f" · {event['calls_used']} model calls")
        self._redraw()

    def show_report(self, report: Any) -> None:
        """Close the progress bar, star the winner and append the before/after comparison of the report."""
        from kaizen_lab.notebook.panels.performance import compare_figure

        self.done = True
        self.bar.max = max(self.bar.value, 1)
        self.bar.value = self.bar.max
        self.bar.bar_style = "success"
        self.bar.description = "done"
        self.status.value = (f"done · {len(self.events)} candidates · winner <b>{html.escape(report.winner.name)}"
                             f"</b> {report.optimized.mean:.3f} ({report.improvement:+.3f}) · "
                             f"{report.calls_used} model calls")
        self._redraw(winner=report.winner.name)
        before = {"score": report.baseline.mean}
        after = {"score": report.optimized.mean}
        figure = compare_figure(before, after, labels=("baseline", report.winner.name),
                                title=f"before / after ({report.improvement:+.3f})")
        lo_b, hi_b = report.baseline.ci
        lo_a, hi_a = report.optimized.ci
        figure.data[0].error_y = {"type": "data", "symmetric": False, "array": [hi_b - report.baseline.mean],
                                  "arrayminus": [report.baseline.mean - lo_b]}
        figure.data[1].error_y = {"type": "data", "symmetric": False, "array": [hi_a - report.optimized.mean],
                                  "arrayminus": [report.optimized.mean - lo_a]}
        self.children = (*tuple(self.children), go.FigureWidget(figure))  # type: ignore[has-type]
