"""%trace as a span tree: nesting, durations, tokens, status icons, text form, hostile names escaped."""

from __future__ import annotations

import re
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.agents.agent import Agent
from kaizen_lab.models.testing import FunctionModel
from kaizen_lab.notebook.display import RunTrace
from kaizen_lab.notebook.trace_view import build_spans, trace_tree_html, trace_tree_text


def test_an_agent_run_becomes_run_steps_and_a_nested_model_call() -> None:
    result = Agent("qa", "question -> answer", model="test").execute(question="hi")
    run_id = result.events[0].run_id
    root = build_spans(result.events, run_id)
    assert root is not None and root["kind"] == "run" and root["status"] == "ok"
    steps = root["children"]
    assert all(s["kind"] == "step" for s in steps) and len(steps) == sum(
        1 for e in result.events if e.kind == "step_finished")
    with_model = [s for s in steps if s["children"]]
    assert len(with_model) == 1 and with_model[0]["children"][0]["kind"] == "model"
    call = next(e for e in result.events if e.kind == "model_called")
    assert with_model[0]["input_tokens"] == call.input_tokens and root["output_tokens"] == call.output_tokens
    assert all(0 <= s["start"] <= root["duration_ms"] + 1 for s in steps)
    html = trace_tree_html(run_id, result.events)
    assert html.count("class='kz-span'") == 1 + len(steps) + 1  # run, steps, the model call
    assert "data-depth='2'" in html and "<details" in html and "ms</span>" in html
    assert f"{call.input_tokens}+{call.output_tokens} tok" in html
    text = repr(RunTrace(run_id, list(result.events)))
    assert re.search(r"^\s{4}✓ model ", text, re.M) and text.splitlines()[1].startswith("✓ run qa")


def test_failures_show_their_icon_and_error_and_names_are_escaped() -> None:
    def boom(messages: Any, info: Any) -> dict[str, str]:
        raise RuntimeError("<script>alert(1)</script>")

    agent = Agent("qa", "question -> answer", model=FunctionModel(boom), max_retries=0)
    events: list[Any] = []
    remove = ev.add_listener(events.append)
    try:
        agent.execute(question="x")
    except Exception:  # noqa: BLE001 - the failure is what is drawn
        pass
    finally:
        remove()
    run_id = next(e.run_id for e in events if e.kind == "run_started")
    html = trace_tree_html(run_id, events)
    assert "data-status='error'" in html and "✗" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "✗" in trace_tree_text(run_id, events)


def test_child_runs_nest_and_unknown_runs_have_a_message() -> None:
    events = [ev.RunStarted(run_id="p", agent_id="parent", inputs={}, ts=1.0),
              ev.RunStarted(run_id="c", agent_id="child", inputs={}, parent_run_id="p", ts=1.01),
              ev.RunFinished(run_id="c", agent_id="child", status="ok", duration_ms=5, ts=1.015),
              ev.RunFinished(run_id="p", agent_id="parent", status="ok", duration_ms=30, ts=1.03)]
    root = build_spans(events, "p")
    assert root is not None and [c["name"] for c in root["children"]] == ["child"]
    assert abs(root["children"][0]["start"] - 10) < 0.01
    assert "no events recorded" in trace_tree_html("zzz", [])
