"""Week 3: agents from the facade, executed directly and as Kailash workflow nodes; what a default agent takes."""

from __future__ import annotations

import pytest
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab import FunctionModel, UserError

from .conftest import question_of


def test_agent_execute_gives_structured_outputs_as_attributes(kaizen) -> None:  # noqa: ANN001
    signature = kaizen.create_signature("question: str -> answer: str, confidence: float")
    agent = kaizen.create_agent("qa", signature)
    result = agent.execute(question="What is 2+2?")
    assert result.answer == "test answer" and result.confidence == 0.5  # the test model's schema-valid answer
    assert result.data == {"answer": "test answer", "confidence": 0.5}
    assert result.metadata.agent_id == "qa" and result.metadata.model_calls == 1
    with pytest.raises(AttributeError, match="no field 'answr'"):
        result.answr  # noqa: B018
    assert kaizen.get_agent("qa") is agent


def test_create_agent_with_a_config_dict(kaizen) -> None:  # noqa: ANN001
    seen = []

    def model(messages, info):  # noqa: ANN001, ANN202
        seen.append(info.settings.temperature)
        return {"answer": question_of(messages).upper()}

    agent = kaizen.create_agent("cfg", config={"model": FunctionModel(model), "temperature": 0.2})
    assert agent.execute(question="hi").answer == "HI" and seen == [0.2]
    # the roadmap's pipeline calls create_agent(name, config) positionally
    positional = kaizen.create_agent("pos", {"signature": "text -> summary", "model": "test"})
    assert positional.signature.input_names == ("text",) and positional.execute(text="t").summary == "test summary"
    with pytest.raises(UserError, match="unknown option 'modle'"):
        kaizen.create_agent("bad", config={"modle": "test"})


def test_an_agent_without_a_signature_takes_question_or_task(kaizen) -> None:  # noqa: ANN001
    agent = kaizen.create_agent("plain", model=FunctionModel(lambda m, i: {"answer": question_of(m)[::-1]}))
    assert agent.signature.input_names == ("question",) and agent.signature.output_names == ("answer",)
    assert agent.execute(question="abc").answer == "cba"
    assert agent.execute(task="xyz").answer == "zyx"  # the roadmap's other spelling reaches the same input
    with pytest.raises(UserError, match="give 'question' or 'task', not both"):
        agent.execute(question="a", task="b")
    typed = kaizen.create_agent("typed", "text -> summary")
    with pytest.raises(UserError, match="unknown input 'task'"):  # only default agents take task=
        typed.execute(task="x")


def test_agent_to_workflow_node_runs_in_the_core_sdk(kaizen) -> None:  # noqa: ANN001
    agent = kaizen.create_agent("test_agent", model=FunctionModel(lambda m, i: {"answer": "node:" + question_of(m)}))
    workflow = WorkflowBuilder()
    node_id = workflow.add_node_instance(agent.to_workflow_node("agent_step"))
    runtime = LocalRuntime()
    # the roadmap runs it with no inputs; the agent needs its question (flat parameters reach every node)
    results, run_id = runtime.execute(workflow.build(), parameters={"question": "hello"})
    assert results[node_id]["answer"] == "node:hello" and results[node_id]["kaizen"]["model_calls"] == 1
    assert run_id is not None


def test_agent_to_workflow_runs_the_same_steps(kaizen) -> None:  # noqa: ANN001
    agent = kaizen.create_agent("wf", "question -> answer")
    workflow = agent.to_workflow()
    assert isinstance(workflow, WorkflowBuilder)
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow.build(), parameters={"question": "q"})
    assert list(results) == ["input", "model", "output"]  # the three step nodes each ran
    assert results["output"] == agent.execute(question="q").data
