"""Signatures compiled to Kailash workflows give the validated outputs of the direct path."""

from __future__ import annotations

import pytest
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab.agents import Agent
from kaizen_lab.errors import OutputParseError, UserError
from kaizen_lab.models import FunctionModel, ScriptedModel
from kaizen_lab.runtime import run_workflow
from kaizen_lab.signatures import Signature
from tests.signatures.conftest import NAMESPACE, Priority, Ticket

QA = Signature("question: str -> answer: str, confidence: float")


def test_compiled_workflow_has_three_connected_registered_nodes() -> None:
    workflow = QA.compile_to_workflow(model="test").build()
    nodes = {node_id: data["type"] for node_id, data in workflow.graph.nodes(data=True)}
    assert nodes == {"input": "KaizenInputNode", "model": "KaizenModelNode", "output": "KaizenOutputNode"}
    assert sorted(workflow.graph.edges()) == [("input", "model"), ("model", "output")]


def test_compiled_workflow_returns_validated_outputs_equal_to_the_direct_path() -> None:
    workflow = QA.compile_to_workflow(model="test").build()
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow, parameters={"question": "What is Kaizen?"})
    direct = Agent("qa", QA, model="test").execute(question="What is Kaizen?")
    assert results["output"] == direct.data
    assert isinstance(results["output"]["confidence"], float)


def test_compiled_workflow_with_a_function_model_and_coercion() -> None:
    def model(messages, info):  # the answer arrives as strings and is coerced to the output types
        return {"answer": messages[-1].content.upper(), "confidence": "0.25"}

    workflow = QA.compile_to_workflow(model=FunctionModel(model)).build()
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow, parameters={"question": "why"})
    assert results["output"] == {"answer": "QUESTION: WHY", "confidence": 0.25}
    direct = Agent("qa", QA, model=FunctionModel(model)).execute(question="why")
    assert results["output"] == direct.data


def test_compiled_workflow_with_user_types_and_defaults() -> None:
    sig = Signature("ticket: Ticket, k: int = 2 -> priority: Priority, related: list[Ticket]", NAMESPACE)
    run = run_workflow(sig.compile_to_workflow(model="test"), {"ticket": {"title": "crash"}})
    assert run.results["input"]["inputs"] == {"ticket": Ticket(title="crash"), "k": 2}
    assert isinstance(run.results["output"]["priority"], Priority)
    assert all(isinstance(t, Ticket) for t in run.results["output"]["related"])


def test_compiled_workflow_validation_errors_come_back_typed() -> None:
    with pytest.raises(UserError, match=r"unknown input 'questoin' \(did you mean 'question'\?\)"):
        run_workflow(QA.compile_to_workflow(model="test"), {"questoin": "x"})
    workflow = QA.compile_to_workflow(model=ScriptedModel(["no json here"]), max_retries=0)
    with pytest.raises(OutputParseError) as info:
        run_workflow(workflow, {"question": "x"})
    assert info.value.raw_output == "no json here"


def test_to_node_composes_with_add_node_instance() -> None:
    builder = WorkflowBuilder()
    builder.add_node_instance(QA.to_node("qa", model="test"), "qa")
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(builder.build(), parameters={"qa": {"question": "node?"}})
    direct = Agent("qa", QA, model="test").execute(question="node?")
    assert {k: results["qa"][k] for k in QA.output_names} == direct.data


def test_to_node_chained_to_another_signature_node() -> None:
    summarise = Signature("answer: str -> summary: str")
    builder = WorkflowBuilder()
    builder.add_node_instance(QA.to_node("qa", model=FunctionModel(lambda m, i: {"answer": "draft",
                                                                                 "confidence": 1})), "qa")
    builder.add_node_instance(summarise.to_node("sum", model=FunctionModel(
        lambda m, i: {"summary": m[-1].content.upper()})), "sum")
    builder.add_connection("qa", "answer", "sum", "answer")
    run = run_workflow(builder, {"question": "go"})
    assert run.results["sum"]["summary"] == "ANSWER: DRAFT"


def test_compiled_workflow_serialises_with_the_signature_text() -> None:
    sig = QA.with_instructions("Answer briefly.")
    data = sig.compile_to_workflow(model="test").build().to_dict()
    config = data["nodes"]["input"]["config"]
    assert Signature.from_dict(config["kaizen_signature"]) == sig
