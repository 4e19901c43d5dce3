"""The optimization progress widget follows a real optimizer run."""

from __future__ import annotations

from kaizen_lab.agents import Agent
from kaizen_lab.models import FunctionModel
from kaizen_lab.notebook.widgets.optimization import OptimizationProgress
from kaizen_lab.optimize import PromptOptimizer

DATA = [{"word": w, "answer": w.upper()} for w in ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"]]


def demo_sensitive(messages, info):
    word = messages[-1].content.split(": ", 1)[1]
    return {"answer": word.upper() if any(m.role == "assistant" for m in messages[:-1]) else word}


def test_progress_bar_chart_and_report_follow_the_run() -> None:
    view = OptimizationProgress()
    assert view.chart.layout.annotations[0].text == "waiting for the first candidate…"
    result = PromptOptimizer(propose_instructions=0, progress=view.callback).optimize(
        Agent("up", "word -> answer", model=FunctionModel(demo_sensitive)), DATA)
    report = result.report
    assert view.bar.value == len(report.candidates) == len(view.events)
    assert view.bar.value < view.bar.max and not view.done  # total unknown: the bar stays open until the report
    points, best, star = view.chart.data
    assert list(points.x) == [c.name for c in report.candidates]
    assert list(points.y) == [c.score for c in report.candidates]
    assert list(points.error_y.arrayminus) == [c.score - c.ci[0] for c in report.candidates]
    assert list(points.error_y.array) == [c.ci[1] - c.score for c in report.candidates]
    assert list(best.y) == [max(c.score for c in report.candidates[:i + 1]) for i in range(len(report.candidates))]
    assert points.marker.symbol[0] == "square"  # the baseline
    assert f"best <b>{report.optimized.mean:.3f}</b>" in view.status.value
    view.show_report(report)
    assert view.done and view.bar.value == view.bar.max and view.bar.bar_style == "success"
    assert list(star.x) == [report.winner.name] and "winner" in star.text[0]
    assert view.status.value.startswith("done")
    comparison = view.children[-1]
    assert [list(t.y) for t in comparison.data][0][0] == report.baseline.mean
    assert comparison.data[1].error_y.arrayminus[0] == report.optimized.mean - report.optimized.ci[0]
    assert comparison.layout.title.text == f"before / after ({report.improvement:+.3f})"
