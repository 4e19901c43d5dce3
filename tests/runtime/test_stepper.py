"""``Stepper`` on an agent's three-node workflow and on a debate cycle."""

from __future__ import annotations

from typing import Any

import pytest

from kaizen_lab.agents.agent import Agent
from kaizen_lab.errors import UserError
from kaizen_lab.runtime.stepper import Stepper


def _model_input(s: Stepper) -> str:
    """The model node's parameter fed by the input node (from the compiled connection)."""
    return next(m["inputs"] for src, dst, m, _ in s.edges if (src, dst) == ("input", "model"))


@pytest.fixture
def stepper() -> Stepper:
    return Stepper.for_agent(Agent("qa", "question: str -> answer: str", model="test"), question="hi")


def test_steps_node_by_node_with_inputs_and_outputs(stepper: Stepper) -> None:
    assert stepper.order == ["input", "model", "output"] and stepper.current_node == "input"
    rec = stepper.step()
    assert rec.node_id == "input" and rec.outputs == {"inputs": {"question": "hi"}}
    assert stepper.current_node == "model" and stepper.status()["model"] == "running"
    rec = stepper.step()
    assert rec.outputs["raw"] == {"answer": "test answer"} and rec.inputs[_model_input(stepper)] == {"question": "hi"}
    stepper.step()
    assert stepper.finished and stepper.current_node is None
    assert stepper.results["output"] == {"answer": "test answer"}
    assert stepper.result().answer == "test answer"


def test_edit_output_before_continuing(stepper: Stepper) -> None:
    stepper.step()
    stepper.set_output("input", {"inputs": {"question": "edited"}})
    stepper.continue_()
    assert stepper.nodes["model"].inputs[_model_input(stepper)] == {"question": "edited"}
    assert any(e.kind == "model_called" for e in stepper.events)


def test_breakpoint_pauses_before_its_node(stepper: Stepper) -> None:
    stepper.add_breakpoint("output")
    stepper.continue_()
    assert stepper.current_node == "output" and stepper.nodes["output"].status == "pending"
    stepper.continue_()
    assert stepper.finished


def test_replay_from_keeps_earlier_outputs(stepper: Stepper) -> None:
    stepper.continue_()
    first_input = stepper.nodes["input"].outputs
    stepper.replay_from("model")
    assert stepper.current_node == "model" and stepper.nodes["input"].outputs is first_input
    assert stepper.nodes["output"].status == "pending"
    stepper.continue_()
    assert stepper.finished and len(stepper.history) == 5


def test_stop_restart_and_errors(stepper: Stepper) -> None:
    stepper.step()
    stepper.stop()
    with pytest.raises(UserError, match="restart"):
        stepper.step()
    stepper.restart()
    assert stepper.current_node == "input" and stepper.nodes["input"].outputs is None
    with pytest.raises(UserError, match="did you mean 'model'"):
        stepper.add_breakpoint("modle")
    with pytest.raises(UserError, match="has not run yet"):
        stepper.set_output("model", {})


def test_failing_node_marks_later_nodes_skipped() -> None:
    from kaizen_lab.models.testing import FunctionModel

    agent = Agent("qa", "question: str -> answer: int", model=FunctionModel(lambda m, i: {"answer": "many"}),
                  max_retries=0)
    s = Stepper.for_agent(agent, question="x")
    s.continue_()
    assert s.stopped and s.status() == {"input": "done", "model": "failed", "output": "skipped"}
    assert "OutputParseError" in (s.nodes["model"].error or "") or s.error is not None


def test_debate_cycle_steps_each_round(debate_workflow: Any) -> None:
    s = Stepper(debate_workflow, parameters={"debater_pro": {"topic": "t"}})
    assert s.has_cycles and s.order == ["debater_pro", "debater_con", "judge"]
    s.prime()
    assert s.current_node == "debater_pro"
    assert s.step().node_id == "debater_pro"
    assert s.current_node == "debater_con"
    s.add_breakpoint("judge")
    s.continue_()
    assert s.current_node == "judge"
    assert [(h.node_id, h.iteration) for h in s.history] == [
        ("debater_pro", 1), ("debater_con", 1), ("debater_pro", 2), ("debater_con", 2)]
    s.continue_()
    assert s.finished and s.results["judge"]["decision"] == "yes"
    with pytest.raises(UserError, match="without cycles"):
        s.replay_from("judge")


def test_debate_cycle_stop_ends_the_background_run(debate_workflow: Any) -> None:
    s = Stepper(debate_workflow, parameters={"debater_pro": {"topic": "t"}})
    s.step()
    s.stop()
    assert s.stopped and s._runner is not None and not s._runner.is_alive()
    assert s.status() == {"debater_pro": "done", "debater_con": "pending", "judge": "pending"}
