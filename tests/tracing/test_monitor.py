"""``TransparencyMonitor``: agent history/metrics/decision trail, workflow graphs, data flow, bottlenecks."""

from __future__ import annotations

import pytest
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab import Kaizen
from kaizen_lab.agents import Agent
from kaizen_lab.errors import OutputParseError, UserError
from kaizen_lab.models import ScriptedModel, TestModel
from kaizen_lab.models.base import ModelResponse, Usage
from kaizen_lab.tracing import TransparencyMonitor, trace_workflow


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def monitor():
    m = TransparencyMonitor(store=":memory:").start_monitoring()
    yield m
    m.stop_monitoring()


def test_agent_transparency_reports_history_metrics_and_usage(monitor: TransparencyMonitor) -> None:
    agent = Agent("qa", "question -> answer", model=TestModel())
    results = [agent.execute(question=str(i)) for i in range(5)]
    failing = Agent("qa", "question -> answer: int", model=ScriptedModel(["x", "y", "z"]), max_retries=1)
    with pytest.raises(OutputParseError):
        failing.execute(question="q")
    view = monitor.get_agent_transparency("qa")
    assert len(view.execution_history) == 6
    assert {r["run_id"] for r in view.execution_history} >= {r.run_id for r in results}
    m = view.performance_metrics
    assert m.runs == 6 and m.error_rate == pytest.approx(1 / 6)
    latencies = sorted(r["duration_ms"] for r in view.execution_history)
    assert latencies[0] <= m.latency_p50_ms <= m.latency_p95_ms <= m.latency_p99_ms <= latencies[-1]
    assert m.input_tokens == sum(r.metadata.input_tokens for r in results) + \
        sum(r["input_tokens"] for r in view.execution_history if r["status"] == "error")
    assert m.cache_hit_rate == 0.0 and m.retry_rate == pytest.approx(1 / 6)
    usage = view.resource_usage
    assert usage["model_calls"] == m.model_calls == 7
    assert usage["by_model"]["test:test"]["calls"] == 5
    assert view.to_dict()["performance_metrics"]["runs"] == 6


def test_cache_hits_count_in_the_hit_rate(monitor: TransparencyMonitor) -> None:
    agent = Agent("cached", "question -> answer", model=TestModel(), cache=True)
    for _ in range(4):
        agent.execute(question="same")
    metrics = monitor.get_agent_transparency("cached").performance_metrics
    assert metrics.cache_hit_rate == pytest.approx(3 / 4)


def test_decision_trail_says_why_each_step_ended(monitor: TransparencyMonitor) -> None:
    calc = Agent("calc", "question -> answer", model=TestModel(), tools=[add])
    run_id = calc.execute(question="1+1").run_id
    trail = monitor.get_decision_trail(run_id)
    steps = [(d.step, d.reason) for d in trail]
    assert steps[0] == ("validate_inputs", "ok")
    assert ("model", "tool_calls: requested add") in steps or ("model", "stop: requested add") in steps
    tool = next(d for d in trail if d.step == "tool")
    assert tool.reason == "returned" and tool.detail == {"arguments": {"a": 1, "b": 1}, "result": "2"}
    assert [d.step for d in trail][-3:] == ["model", "parse", "validate_outputs"]

    retrying = Agent("retry", "question -> answer: int",
                     model=ScriptedModel(["no number here", ModelResponse('{"answer": 3}', usage=Usage(1, 1))]))
    retrying.execute(question="q")
    trail = monitor.get_agent_transparency("retry").decision_trail
    kinds = [d.step for d in trail]
    assert kinds.count("model") == 2 and "retry" in kinds
    parse_error = next(d for d in trail if d.step == "parse")
    assert parse_error.status == "error" and parse_error.reason.startswith("error:")
    assert kinds.index("retry") > kinds.index("parse")


def test_unknown_agent_suggests_recorded_ones(monitor: TransparencyMonitor) -> None:
    Agent("summarizer", "text -> summary", model=TestModel()).execute(text="t")
    with pytest.raises(UserError, match="did you mean 'summarizer'"):
        monitor.get_agent_transparency("sumarizer")


def test_monitor_needs_start_before_queries() -> None:
    with pytest.raises(UserError, match="start_monitoring"):
        TransparencyMonitor(store=":memory:").get_agent_transparency("qa")


def _diamond() -> WorkflowBuilder:
    wb = WorkflowBuilder()
    wb.add_node("TracingSleepNode", "load", {"ms": 5})
    wb.add_node("TracingSleepNode", "slow", {"ms": 250})
    wb.add_node("TracingSleepNode", "fast", {"ms": 5})
    wb.add_node("TracingSleepNode", "merge", {"ms": 5})
    wb.add_connection("load", "x", "slow", "x")
    wb.add_connection("load", "x", "fast", "x")
    wb.add_connection("slow", "x", "merge", "x")
    return wb


def test_workflow_visibility_ranks_the_slow_node_first(monitor: TransparencyMonitor) -> None:
    trace_workflow(_diamond(), tracer=monitor.tracer)  # warm-up: first-run costs land elsewhere
    run_id = trace_workflow(_diamond(), tracer=monitor.tracer).run.run_id
    view = monitor.get_workflow_visibility(run_id)
    top = view.bottlenecks[0]
    assert top["node_id"] == "slow" and top["on_critical_path"] and top["critical_path_share"] > 0.5
    fast = next(b for b in view.bottlenecks if b["node_id"] == "fast")
    assert not fast["on_critical_path"] and fast["critical_path_share"] == 0.0
    on_path = sum(b["critical_path_share"] for b in view.bottlenecks if b["on_critical_path"])
    assert on_path == pytest.approx(1.0)
    graph = view.execution_graph
    assert {n["id"] for n in graph["nodes"]} == {"load", "slow", "fast", "merge"}
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {("load", "slow"), ("load", "fast"),
                                                                    ("slow", "merge")}
    assert all(n["status"] == "ok" and n["duration_ms"] > 0 for n in graph["nodes"])
    assert view.node_performance[0]["node_id"] == "slow"
    flow = {(f["source"], f["target"]): f["value"] for f in view.data_flow}
    assert flow == {("load", "slow"): 1, ("load", "fast"): 1, ("slow", "merge"): 2}


def test_agent_run_visibility_uses_its_steps(monitor: TransparencyMonitor) -> None:
    run_id = Agent("qa", "question -> answer", model=TestModel()).execute(question="q").run_id
    view = monitor.get_workflow_visibility(run_id)
    assert [n["id"] for n in view.execution_graph["nodes"]] == \
        ["validate_inputs", "format", "model", "parse", "validate_outputs"]
    assert all(e["inferred"] for e in view.execution_graph["edges"])
    assert view.data_flow[-1]["value"] == {"answer": "test answer"}


def test_kaizen_facade_gives_one_monitor(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    kaizen = Kaizen()
    monitor = kaizen.get_transparency_interface()
    assert monitor is kaizen.get_transparency_interface()
    monitor.start_monitoring()
    try:
        kaizen.create_agent("qa", "question -> answer", model="test").execute(question="q")
        assert monitor.get_agent_transparency("qa").performance_metrics.runs == 1
    finally:
        monitor.stop_monitoring()
        monitor.tracer.close()
    assert (tmp_path / ".kaizen" / "traces.db").exists()
