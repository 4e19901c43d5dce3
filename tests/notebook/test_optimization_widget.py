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
    result = PromptOptimizer(propose_instructions=0, progress=view.callback).optimize(
        Agent("up", "word -> answer", model=FunctionModel(demo_sensitive)), DATA)
    report = result.report
    assert view.bar.value == len(report.candidates) == len(view.events)
    bars = view.chart.data[0]
    assert list(bars.x) == [c.name for c in report.candidates]
    assert list(bars.y) == [c.score for c in report.candidates]
    assert bars.marker.color[0] == "#9e9e9e"  # the baseline
    assert "#43a047" in bars.marker.color  # at least one candidate beat it
    assert f"best <b>{report.optimized.mean:.3f}</b>" in view.status.value
    view.show_report(report)
    comparison = view.children[-1]
    assert [list(t.y) for t in comparison.data][0][0] == report.baseline.mean
    assert comparison.layout.title.text == f"before / after ({report.improvement:+.3f})"
