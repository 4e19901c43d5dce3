"""Node spans for any Kailash workflow through the runtime's ``KaizenTaskManager``: nodes, cycles, failures."""

from __future__ import annotations

import pytest
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab.agents import Agent
from kaizen_lab.errors import AgentRunError
from kaizen_lab.models import TestModel
from kaizen_lab.runtime import run_workflow
from kaizen_lab.runtime.bridge import KaizenTaskManager, trace_workflow
from kaizen_lab.tracing import Tracer


def _chain() -> WorkflowBuilder:
    wb = WorkflowBuilder()
    wb.add_node("TracingSleepNode", "a", {"ms": 1})
    wb.add_node("TracingSleepNode", "b", {"ms": 30})
    wb.add_connection("a", "x", "b", "x")
    return wb


def test_plain_kailash_nodes_get_node_spans_with_outputs(tracer: Tracer) -> None:
    traced = trace_workflow(_chain(), tracer=tracer)
    trace = traced.trace
    assert traced.results["b"] == {"x": 2}
    assert [(d, s.kind, s.name) for d, s in trace.walk()][1:] == [(1, "node", "a"), (1, "node", "b")]
    b = trace.find(kind="node", name="b")[0]
    assert b.attributes["node_type"] == "TracingSleepNode" and b.outputs == {"x": 2}
    assert b.duration_ms >= 30 and b.start >= trace.find(name="a")[0].end - 1e-3
    assert trace.run.kind == "workflow" and trace.run.status == "ok"
    assert trace.root.attributes["graph"]["edges"][0]["source"] == "a"


def test_task_manager_passed_to_run_workflow_directly(tracer: Tracer) -> None:
    manager = KaizenTaskManager(workflow=_chain().build())
    run = run_workflow(_chain(), task_manager=manager)
    trace = tracer.get(manager.run_id)
    assert sorted(s.name for s in trace.find(kind="node")) == ["a", "b"]
    assert run.results["b"] == {"x": 2}


def test_cycle_iterations_nest_under_the_cycle(tracer: Tracer) -> None:
    wb = WorkflowBuilder()
    wb.add_node("TracingCountNode", "count", {})
    wf = wb.build()
    wf.create_cycle("loop").connect("count", "count", {"count": "count"}).max_iterations(5) \
        .converge_when("done == True").build()
    trace = trace_workflow(wf, tracer=tracer).trace
    assert [(d, s.kind, s.name) for d, s in trace.walk()][1:] == [
        (1, "cycle", "cycle:loop"),
        (2, "iteration", "cycle:loop#1"), (3, "node", "count"),
        (2, "iteration", "cycle:loop#2"), (3, "node", "count"),
        (2, "iteration", "cycle:loop#3"), (3, "node", "count")]
    nodes = trace.find(kind="node")
    assert [n.attributes["iteration"] for n in nodes] == [1, 2, 3]
    assert [n.outputs["count"] for n in nodes] == [1, 2, 3]


def test_failing_node_is_an_error_span_and_the_run_fails(tracer: Tracer) -> None:
    wb = WorkflowBuilder()
    wb.add_node("TracingSleepNode", "a", {})
    wb.add_node("TracingFailNode", "boom", {})
    wb.add_node("TracingSleepNode", "after", {})
    wb.add_connection("a", "x", "boom", "x")
    wb.add_connection("boom", "x", "after", "x")
    manager = KaizenTaskManager(workflow=wb.build())
    with pytest.raises(AgentRunError):
        run_workflow(wb, task_manager=manager)
    trace = tracer.get(manager.run_id)
    boom = trace.find(kind="node", name="boom")[0]
    assert boom.status == "error" and "broke on purpose" in boom.error
    assert trace.run.status == "error"
    assert not trace.find(name="after")


def test_agent_node_sub_run_nests_under_its_node(tracer: Tracer) -> None:
    agent = Agent("qa", "question -> answer", model=TestModel())
    wb = WorkflowBuilder()
    wb.add_node_instance(agent.to_workflow_node("qa_node"), "qa_node")
    traced = trace_workflow(wb, {"question": "hi"}, tracer=tracer)
    trace = traced.trace
    node = trace.find(kind="node", name="qa_node")[0]
    sub = [s for s in trace.children(node) if s.kind == "run"]
    assert [s.name for s in sub] == ["qa"]
    assert trace.runs[1].parent_run_id == traced.run.run_id
    assert node.duration_ms >= sub[0].duration_ms * 0.9


def test_compiled_agent_steps_nest_under_their_nodes(tracer: Tracer) -> None:
    agent = Agent("qa", "question -> answer", model=TestModel())
    trace = trace_workflow(agent.to_workflow(), {"question": "hi"}, tracer=tracer).trace
    tree = [(d, s.kind, s.name) for d, s in trace.walk()][1:]
    assert tree == [(1, "node", "input"), (2, "step", "validate_inputs"), (1, "node", "model"),
                    (2, "step", "format"), (2, "step", "model"), (3, "model", "test:test"), (2, "step", "parse"),
                    (1, "node", "output"), (2, "step", "validate_outputs")]


def test_trace_workflow_without_a_tracer_uses_its_own() -> None:
    traced = trace_workflow(_chain())
    assert [s.name for s in traced.trace.find(kind="node")] == ["a", "b"]


def test_compiled_debate_nests_each_turn_run_under_its_node_in_each_round(tracer: Tracer) -> None:
    from kaizen_lab.patterns import DEBATER_SIGNATURE, DebatePattern

    debaters = [Agent(f"d{i}", DEBATER_SIGNATURE,
                      model=TestModel(custom_output={"argument": "a", "position": str(i)})) for i in range(2)]
    workflow = DebatePattern(debaters, rounds=2, converge=False).build_workflow("topic")
    trace = trace_workflow(workflow, tracer=tracer).trace
    tree = [(d, s.kind, s.name) for d, s in trace.walk() if s.kind in ("run", "node", "cycle", "iteration")]
    assert tree == [(0, "run", trace.root.name), (1, "cycle", "cycle:debate_rounds"),
                    (2, "iteration", "cycle:debate_rounds#1"), (3, "node", "debater_d0"), (4, "run", "d0"),
                    (3, "node", "debater_d1"), (4, "run", "d1"),
                    (2, "iteration", "cycle:debate_rounds#2"), (3, "node", "debater_d0"), (4, "run", "d0"),
                    (3, "node", "debater_d1"), (4, "run", "d1"),
                    (1, "node", "judge")]
    assert len(trace.runs) == 5 and {r.trace_id for r in trace.runs} == {trace.run.run_id}


def test_the_old_names_still_resolve_from_tracing() -> None:
    import kaizen_lab.tracing as tracing

    assert (tracing.KaizenTaskManager, tracing.trace_workflow) == (KaizenTaskManager, trace_workflow)
