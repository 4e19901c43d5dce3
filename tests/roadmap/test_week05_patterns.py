"""Week 5: the facade's multi-agent workflows, run on the Core SDK runtime."""

from __future__ import annotations

from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab import FunctionModel

from .conftest import question_of


def debater(name: str, prompts: list[str]) -> FunctionModel:
    def answer(messages, info):  # noqa: ANN001, ANN202
        prompts.append(messages[-1].content)
        return {"answer": f"{name} argues turn {sum(1 for p in prompts if p)}"}

    return FunctionModel(answer)


def test_debate_workflow_with_ordinary_agents(kaizen) -> None:  # noqa: ANN001
    prompts: list[str] = []
    agents = [kaizen.create_agent("pro", model=debater("pro", prompts)),
              kaizen.create_agent("con", model=debater("con", prompts))]
    workflow = kaizen.create_debate_workflow(agents, "Should cities ban cars?", 2)
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow)
    transcript = results["judge"]["transcript"]
    assert [(t["round"], t["agent_id"]) for t in transcript] == [(0, "pro"), (0, "con"), (1, "pro"), (1, "con")]
    assert transcript[0]["argument"] == "pro argues turn 1"  # each agent's answer is its argument
    # every turn was told the topic, and later turns saw the earlier arguments
    assert all("Should cities ban cars?" in p for p in prompts)
    assert "(no arguments yet)" in prompts[0] and "pro argues turn 1" in prompts[1]
    assert "con argues turn 2" in prompts[3]
    assert results["judge"]["decision"] is None  # no judge and no positions: nobody decided


def test_debate_workflow_with_an_ordinary_judge(kaizen) -> None:  # noqa: ANN001
    prompts: list[str] = []
    agents = [kaizen.create_agent("a", model=debater("a", prompts)),
              kaizen.create_agent("b", model=debater("b", prompts))]
    judge = kaizen.create_agent("judge", model=FunctionModel(
        lambda m, i: {"answer": "b" if "b argues" in m[-1].content else "?"}))
    workflow = kaizen.create_debate_workflow(agents, "tabs or spaces", rounds=1, judge=judge)
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow)
    assert results["judge"]["decision"] == "b"


def test_pipeline_from_name_config_pairs_chains_the_steps(kaizen) -> None:  # noqa: ANN001
    def step(tag: str) -> FunctionModel:
        return FunctionModel(lambda m, i: {"answer": f"{tag}({question_of(m)})"})

    workflow = kaizen.create_pipeline([("step1", {"model": step("draft")}), ("step2", {"model": step("edit")})])
    assert isinstance(workflow, WorkflowBuilder)
    assert {"step1", "step2"} <= set(kaizen.agents)  # the agents were created from the pairs
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow.build(), parameters={"inputs": {"values": {"question": "text"}}})
    assert results["step1"]["answer"] == "draft(text)"
    assert results["step2"]["answer"] == "edit(draft(text))"  # step 2 received step 1's answer


def test_consensus_workflow_aggregates_the_votes(kaizen) -> None:  # noqa: ANN001
    def voter(choice: str, confidence: float) -> FunctionModel:
        return FunctionModel(lambda m, i: {"decision": choice, "confidence": confidence})

    sig = "question -> decision: str, confidence: float"
    agents = [kaizen.create_agent("v1", sig, model=voter("yes", 0.9)),
              kaizen.create_agent("v2", sig, model=voter("yes", 0.85)),
              kaizen.create_agent("v3", sig, model=voter("no", 0.95))]
    workflow = kaizen.create_consensus_workflow(agents, decision_criteria="majority", confidence_threshold=0.8)
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow.build(), parameters={"question": "ship it?"})
    assert results["aggregate"]["decision"] == "yes" and results["aggregate"]["tally"] == {"yes": 2, "no": 1}
