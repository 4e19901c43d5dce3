"""Playground and Debugger widgets driven through their Python API (buttons clicked with ``.click()``)."""

from __future__ import annotations

import json
from typing import Any, Literal

import ipywidgets as w
import pydantic

from kaizen_lab.agents.agent import Agent
from kaizen_lab.models.testing import FunctionModel
from kaizen_lab.notebook.widgets import Debugger, Playground


class Address(pydantic.BaseModel):
    city: str
    zip: str


def test_form_widgets_follow_the_field_types() -> None:
    ns = {"Address": Address, "Literal": Literal}
    agent = Agent("form", "question: str, text: str, n: int, t: float, flag: bool, "
                          "mode: Literal['fast', 'slow'], tags: list[str], where: Address -> answer: str",
                  model="test", namespace=ns)
    pg = agent.playground()
    kinds = {name: type(widget) for name, widget in pg.inputs.items()}
    assert kinds == {"question": w.Text, "text": w.Textarea, "n": w.IntText, "t": w.FloatText, "flag": w.Checkbox,
                     "mode": w.Dropdown, "tags": w.Textarea, "where": w.Textarea}
    assert pg.inputs["mode"].options == ("fast", "slow")
    assert set(json.loads(pg.inputs["where"].value)) == {"city", "zip"}  # a schema-valid example to edit
    pg.set_values(tags=["a", "b"], n=3)
    assert pg.values()["tags"] == ["a", "b"] and pg.values()["n"] == 3


def test_run_button_shows_result_card_and_history() -> None:
    seen: list[str] = []

    def answer(messages: Any, info: Any) -> dict[str, str]:
        seen.append(messages[-1].content)
        return {"answer": f"answer #{info.call_index + 1}"}

    pg = Playground(Agent("qa", "question -> answer", model=FunctionModel(answer)))
    pg.set_values(question="What is 2+2?")
    pg.run_button.click()
    assert "answer #1" in pg.result.value and "kaizen-result" in pg.result.value
    assert "What is 2+2?" in seen[0] and pg.last_result.answer == "answer #1"
    pg.run_button.click()
    assert "answer #2" in pg.result.value and len(pg.history) == 2 and "history (2)" in pg.history_box.value
    assert not pg.run_button.disabled


def test_errors_show_inline_and_keep_the_form() -> None:
    agent = Agent("qa", "question: str, items: list[int] -> total: int",
                  model=FunctionModel(lambda m, i: {"total": "lots"}), max_retries=0)
    pg = Playground(agent)
    pg.set_values(question="sum")
    pg.inputs["items"].value = "[1, 2"  # broken JSON
    pg.run_button.click()
    assert "not valid JSON" in pg.error.value and "items" in pg.error.value
    assert pg.inputs["question"].value == "sum" and pg.inputs["items"].value == "[1, 2"
    pg.inputs["items"].value = "[1, 2]"
    pg.run_button.click()
    assert "OutputParseError" in pg.error.value or "total" in pg.error.value
    assert pg.result.value == "" and pg.history[-1]["error"]
    assert pg.inputs["question"].value == "sum"


def test_debugger_buttons_step_edit_and_replay() -> None:
    def answer(messages: Any, info: Any) -> dict[str, str]:
        return {"answer": "echo " + messages[-1].content.split("question")[-1][-20:].strip(' ":}\n')}

    dbg = Agent("qa", "question -> answer", model=FunctionModel(answer)).debug(question="first")
    s = dbg.stepper
    assert "data-current='input'" in dbg.state.value
    dbg.buttons["Step"].click()
    assert s.current_node == "model" and "data-current='model'" in dbg.state.value
    assert "first" in dbg.node_view.value  # the input node's outputs as a JSON tree
    widths = dict(zip(dbg.graph.data[2].customdata, dbg.graph.data[2].marker.line.width, strict=True))
    assert widths["model"] == 4
    dbg.node_select.value = "input"
    dbg.editor.value = json.dumps({"inputs": {"question": "edited"}})
    dbg.apply_button.click()
    dbg.buttons["Continue"].click()
    assert s.finished and "edited" in s.results["output"]["answer"]
    assert dbg.buttons["Step"].disabled and "finished" in dbg.state.value
    dbg.node_select.value = "model"
    dbg.replay_button.click()
    assert s.current_node == "model" and not dbg.buttons["Step"].disabled
    dbg.buttons["Restart"].click()
    assert s.current_node == "input" and s.nodes["input"].outputs is None


def test_debugger_breakpoints_stop_and_bad_edit() -> None:
    dbg = Debugger(Agent("qa", "question -> answer", model="test"), question="q")
    dbg.breakpoints.value = ("output",)
    dbg.buttons["Continue"].click()
    assert dbg.stepper.current_node == "output"
    dbg.node_select.value = "model"
    dbg.editor.value = "{not json"
    dbg.apply_button.click()
    assert "not valid JSON" in dbg.error.value
    dbg.buttons["Stop"].click()
    assert dbg.stepper.stopped and "stopped" in dbg.state.value
    dbg.buttons["Step"].click()  # disabled in the browser; a direct call reports instead of raising
    assert "restart" in dbg.error.value


def test_debugger_on_a_debate_cycle(debate_workflow: Any) -> None:
    from kaizen_lab.runtime.stepper import Stepper

    s = Stepper(debate_workflow, parameters={"debater_pro": {"topic": "t"}})
    dbg = Debugger(s)
    assert "data-current='debater_pro'" in dbg.state.value  # the runner is parked before the first node
    dbg.buttons["Step"].click()
    assert [h.node_id for h in s.history] == ["debater_pro"] and s.current_node == "debater_con"
    dbg.buttons["Step"].click()
    assert s.current_node == "debater_pro" and s.nodes["debater_pro"].iteration == 1
    dbg.buttons["Stop"].click()
    assert s.stopped
