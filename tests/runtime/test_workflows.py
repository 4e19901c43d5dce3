"""Agents and signatures compiled to Kailash workflows: the same steps, results and events as the fast path."""

from __future__ import annotations

import pytest
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder
from kailash.workflow.graph import Workflow

from kaizen_lab.agents import Agent
from kaizen_lab.errors import OutputParseError, UserError
from kaizen_lab.models import FunctionModel, ScriptedModel
from kaizen_lab.runtime import run_workflow
from kaizen_lab.signatures import Signature

QA = "question: str -> answer: str, confidence: float"


def upper(messages, info):
    return {"answer": messages[-1].content.split(": ", 1)[1].upper(), "confidence": 0.5}


def _shape(events):
    return [(e.kind, getattr(e, "step", None), getattr(e, "status", None)) for e in events]


def test_direct_and_compiled_paths_give_equal_results_and_equivalent_events() -> None:
    agent = Agent("qa", QA, model=FunctionModel(upper))
    direct = agent.execute(question="same")
    compiled = agent.run_workflow(question="same")
    assert direct == compiled
    assert direct.data == {"answer": "SAME", "confidence": 0.5}
    assert _shape(direct.events) == _shape(compiled.events)
    assert compiled.metadata.model_calls == 1 and compiled.metadata.input_tokens == direct.metadata.input_tokens


def test_compiled_signature_runs_on_local_runtime_with_flat_parameters() -> None:
    workflow = Signature(QA).compile_to_workflow(model="test").build()
    with LocalRuntime(enable_monitoring=False) as rt:
        results, _ = rt.execute(workflow, parameters={"question": "Test"})
    assert results["output"] == {"answer": "test answer", "confidence": 0.5}
    assert results["input"]["inputs"] == {"question": "Test"}


def test_agent_node_composes_in_a_workflow_and_returns_a_run_id() -> None:
    agent = Agent("qa", QA, model=FunctionModel(upper))
    builder = WorkflowBuilder()
    builder.add_node_instance(agent.to_workflow_node("qa_node"), "qa_node")
    run = run_workflow(builder, {"question": "node"})
    assert run.results["qa_node"]["answer"] == "NODE"
    assert run.results["qa_node"]["kaizen"]["run_id"].startswith("run-")
    assert run.run_id.startswith("wf-")
    sub_runs = {e.parent_run_id for e in run.events if e.kind == "run_started"}
    assert sub_runs == {run.run_id}


def test_two_agents_chained_by_connection() -> None:
    first = Agent("first", "question -> answer", model=FunctionModel(lambda m, i: {"answer": "draft"}))
    second = Agent("second", "answer -> summary",
                   model=FunctionModel(lambda m, i: {"summary": m[-1].content.upper()}))
    builder = WorkflowBuilder()
    builder.add_node_instance(first.to_workflow_node("first"), "first")
    builder.add_node_instance(second.to_workflow_node("second"), "second")
    builder.add_connection("first", "answer", "second", "answer")
    run = run_workflow(builder, {"question": "go"})
    assert run.results["second"]["summary"] == "ANSWER: DRAFT"


def test_unknown_workflow_input_names_a_suggestion() -> None:
    workflow = Agent("qa", QA, model="test").to_workflow()
    with pytest.raises(UserError, match=r"unknown input 'questoin' \(did you mean 'question'\?\)"):
        run_workflow(workflow, {"questoin": "x"})


def test_errors_inside_nodes_come_back_typed_with_events() -> None:
    agent = Agent("qa", QA, model=ScriptedModel(["not json"]), max_retries=0)
    with pytest.raises(OutputParseError) as info:
        agent.run_workflow(question="q")
    kinds = [e.kind for e in info.value.events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert "model_called" in kinds


def test_exported_spec_round_trips_through_workflow_to_dict() -> None:
    agent = Agent("qa", QA, model="test")
    spec = agent.to_workflow().build().to_dict()
    for node in spec["nodes"].values():
        node["config"].pop("kaizen_agent_ref", None)  # a fresh process has no live agents
    restored = Workflow.from_dict(spec)
    run = run_workflow(restored, {"question": "again"})
    assert run.results["output"] == {"answer": "test answer", "confidence": 0.5}
    assert spec["nodes"]["model"]["config"]["kaizen_signature"]["signature"] == QA


def test_field_names_that_match_node_settings_do_not_collide() -> None:
    agent = Agent("clash", "model, signature, inputs -> raw", model=FunctionModel(
        lambda m, i: {"raw": m[-1].content.replace("\n", " | ")}))
    direct = agent.execute(model="m", signature="s", inputs="i")
    assert agent.run_workflow(model="m", signature="s", inputs="i") == direct
    assert direct.raw == "model: m | signature: s | inputs: i"


def test_compiled_signature_keeps_its_model_object_alive() -> None:
    import gc

    from kaizen_lab.runtime.compiler import compile_signature

    builder = compile_signature(Signature(QA), model=FunctionModel(upper))
    gc.collect()
    assert run_workflow(builder, {"question": "kept"}).results["output"]["answer"] == "KEPT"


def test_run_workflow_reuses_the_compiled_workflow_until_the_agent_changes() -> None:
    from kaizen_lab.runtime.compiler import compiled_agent_workflow

    agent = Agent("cached", QA, model=FunctionModel(upper))
    first = compiled_agent_workflow(agent)
    assert agent.run_workflow(question="one").answer == "ONE"
    assert compiled_agent_workflow(agent) is first  # reused, not recompiled
    agent.signature = Signature("question: str, context: str -> answer: str, confidence: float")
    rebuilt = compiled_agent_workflow(agent)
    assert rebuilt is not first
    assert {n for n, d in rebuilt.graph.nodes(data=True) if "context" in d["node"].get_parameters()} == {"input"}
    assert agent.run_workflow(question="two", context="c").answer.endswith("CONTEXT: C")  # the new input reached the model
    with pytest.raises(UserError, match="unknown input 'nope'"):
        agent.run_workflow(question="three", nope=1)
    agent.max_retries = 0
    assert compiled_agent_workflow(agent) is not rebuilt


def test_pipeline_workflow_is_cached_and_rebuilt_when_a_step_changes() -> None:
    from kaizen_lab.patterns import PipelinePattern

    first = Agent("first", "question -> draft", model=FunctionModel(lambda m, i: {"draft": "d1"}))
    second = Agent("second", "draft -> answer", model=FunctionModel(lambda m, i: {"answer": "a1"}))
    pipeline = PipelinePattern([first, second])
    assert pipeline.run_workflow(question="q").answer == "a1"
    cached = pipeline.__dict__["_kaizen_compiled"][1]
    assert pipeline.run_workflow(question="q").answer == "a1"
    assert pipeline.__dict__["_kaizen_compiled"][1] is cached
    second.signature = Signature("draft -> answer, note")
    second.model = FunctionModel(lambda m, i: {"answer": "a2", "note": "n"})
    result = pipeline.run_workflow(question="q")
    assert (result.answer, result.note) == ("a2", "n")
    assert pipeline.__dict__["_kaizen_compiled"][1] is not cached


def test_node_parameters_are_built_once_per_signature() -> None:
    agent = Agent("params", QA, model=FunctionModel(upper))
    node = agent.to_workflow_node()
    assert node.get_parameters() is node.get_parameters()
    before = node.get_parameters()
    agent.signature = Signature("question: str, extra: str = 'x' -> answer: str, confidence: float")
    assert "extra" in node.get_parameters() and node.get_parameters() is not before


def test_model_node_awaits_on_the_runtime_loop_without_a_background_hop() -> None:
    import threading

    seen: list[str] = []

    def model(messages, info):
        seen.append(threading.current_thread().name)
        return {"answer": "x", "confidence": 1.0}

    Agent("hop", QA, model=FunctionModel(model)).run_workflow(question="q")
    assert seen == [threading.current_thread().name]  # not "kaizen-lab-loop"
