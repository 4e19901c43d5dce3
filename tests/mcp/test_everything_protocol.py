"""The whole protocol against npm's reference ``server-everything``: typed content (image, resource link,
embedded resource, blob), sampling (test model and the embedded local model), elicitation through the widget
form in a real ``InteractiveShell``, roots, progress and log notifications, and cancellation."""

from __future__ import annotations

import _thread
import json
import threading
import time
from pathlib import Path

import pytest

from kaizen_lab import events as ev
from kaizen_lab.agents import Agent
from kaizen_lab.mcp import MCPConnection, connect
from kaizen_lab.mcp._forms import Answer, pending_forms
from kaizen_lab.models.base import ModelResponse, ToolCall
from kaizen_lab.models.testing import FunctionModel

pytestmark = pytest.mark.slow  # each test starts npm's reference server


def _everything(node_bin: Path, **options: object) -> MCPConnection:
    return connect([str(node_bin / "mcp-server-everything"), "stdio"], name="everything", connect_timeout=30,
                   shared=False, **options)


def _wait(predicate, seconds: float = 20.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_typed_content_arrives_intact(node_bin: Path) -> None:
    conn = _everything(node_bin, elicitation="decline")
    image = next(c for c in conn.call_tool("get-tiny-image", {}).content if c.type == "image")
    assert image.mime_type == "image/png" and image.data is not None and image.data.startswith(b"\x89PNG\r\n")
    assert image.size == len(image.data) > 100 and "<img src=\"data:image/png;base64," in image._repr_html_()
    links = [c for c in conn.call_tool("get-resource-links", {"count": 2}).content if c.type == "resource_link"]
    assert [(c.uri, c.name) for c in links] == [("demo://resource/dynamic/blob/1", "Blob Resource 1"),
                                                ("demo://resource/dynamic/text/2", "Text Resource 2")]
    assert "<resource link: " not in links[0].model_text() and "demo://resource/dynamic/blob/1" in links[0].model_text()
    embedded = next(c for c in conn.call_tool("get-resource-reference", {"resourceType": "Text", "resourceId": 3})
                    .content if c.type == "resource")
    assert embedded.uri == "demo://resource/dynamic/text/3" and "Resource 3" in (embedded.text or "")
    blob = conn.read_resource("demo://resource/dynamic/blob/1")
    assert blob.contents[0].type == "blob" and blob.data is not None
    assert blob.data.startswith(b"Resource 1: This is a base64 blob")
    templates = {t["uri_template"] for t in conn.list_resource_templates()}
    assert "demo://resource/dynamic/blob/{resourceId}" in templates
    info = conn.info()
    assert {"tools", "resources", "prompts", "logging", "completions"} <= set(info["capabilities"])
    assert info["content_types"]["image"] >= 1 and info["content_types"]["resource_link"] >= 2
    from kaizen_lab.notebook.panels import mcp_figure

    fig = mcp_figure([info])
    hover = fig.data[0].hovertext[1]
    assert "capabilities: tools, resources, prompts, logging, completions" in hover
    assert "we answer: sampling allow, elicitation decline" in hover and "image ×1" in hover
    assert "demo://resource/dynamic/blob/{resourceId}" in hover
    assert fig.layout.meta["servers"][0]["content_types"]["resource_link"] >= 2
    conn.close()


def test_agent_gives_model_placeholders_and_trace_records_content(node_bin: Path) -> None:
    seen: list[str] = []

    def reply(messages, info):  # noqa: ANN001, ANN202
        if messages[-1].role == "tool":
            seen.append(messages[-1].content)
            return json.dumps({"answer": "done"})
        return ModelResponse(tool_calls=(ToolCall("c1", "get-tiny-image", {}),), finish_reason="tool_calls")

    agent = Agent("viewer", "question: str -> answer: str", model=FunctionModel(reply, name="viewer"))
    agent.connect_to_mcp_servers({"everything": {"command": str(node_bin / "mcp-server-everything"),
                                                 "args": ["stdio"]}})
    from kaizen_lab.store import RunStore
    from kaizen_lab.tracing import Tracer

    store = RunStore(":memory:", max_runs=None)
    tracer = Tracer(store, flush_interval=0.05)
    tracer.start()
    try:
        result = agent.execute(question="show me")
        # the text items, then a line naming the image (this model takes none)
        text, placeholder = seen[0].rsplit("\n", 1)
        assert text.startswith("Here's the image you requested:") and placeholder.startswith("[image image/png, ")
        assert placeholder.endswith(" bytes from tool get-tiny-image, not shown: this model does not take images]")
        called = next(e for e in result.events if e.kind == "tool_called")
        assert any(c["type"] == "image" and c["mime_type"] == "image/png" and c["size"] > 100
                   for c in called.content)
        span = next(s for s in tracer.get(result.run_id).spans if s.kind == "tool")
        assert {"type": "image", "mime_type": "image/png"}.items() <= span.attributes["content"][1].items()
    finally:
        tracer.stop()
        store.close()


def test_sampling_answered_by_the_agents_model_and_by_the_local_model(node_bin: Path) -> None:
    conn = _everything(node_bin, elicitation="decline")
    agent = Agent("sampler", "q: str -> a: str",
                  model=FunctionModel(lambda messages, info: "sampled by the agent", name="sampler"))
    out = conn.call_tool("trigger-sampling-request", {"prompt": "hello", "maxTokens": 16}, agent=agent)
    assert '"text": "sampled by the agent"' in out.text and '"model": "function:sampler"' in out.text
    event = next(n for n in conn.notifications if n.what == "sampling")
    assert event.detail["decision"] == "answered" and "hello" in event.detail["prompt"]
    conn.close()
    local = _everything(node_bin, elicitation="decline", sampling_model="local")
    out = local.call_tool("trigger-sampling-request", {"prompt": "Say hi", "maxTokens": 8}, timeout=300)
    assert '"model": "local:' in out.text and '"stopReason": "endTurn"' in out.text
    local.close()


def test_sampling_policy_deny_and_budget(node_bin: Path) -> None:
    denied = _everything(node_bin, elicitation="decline", sampling="deny")
    out = denied.call_tool("trigger-sampling-request", {"prompt": "x", "maxTokens": 16})
    assert "denied by policy" in out.text
    denied.close()
    tight = _everything(node_bin, elicitation="decline", sampling_model="test", sampling_token_budget=10)
    out = tight.call_tool("trigger-sampling-request", {"prompt": "x", "maxTokens": 16})
    assert "budget exhausted" in out.text
    assert [n.detail["decision"] for n in tight.notifications if n.what == "sampling"] == ["refused"]
    tight.close()
    questions: list[str] = []

    def user(server: str, message: str, schema: dict) -> Answer:
        questions.append(message)
        return Answer("accept" if len(questions) > 1 else "decline")

    asked = _everything(node_bin, elicitation="decline", sampling="ask", sampling_model="test", elicit=user)
    assert "declined the sampling request" in asked.call_tool("trigger-sampling-request", {"prompt": "x"}).text
    assert '"text": "test output"' in asked.call_tool("trigger-sampling-request", {"prompt": "y"}).text
    assert len(questions) == 2 and "wants your model to answer" in questions[0]
    asked.close()


def test_elicitation_answered_through_the_widget_in_a_real_shell(node_bin: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # nothing written under IPYTHONDIR
    shell = InteractiveShell.instance(config=config)
    conn = _everything(node_bin)  # elicitation="auto": a shell is running, so a widget form
    shell.user_ns["conn"] = conn

    def user() -> None:
        form = _wait(lambda: pending_forms() and pending_forms()[0])
        form.fields["name"].value = "Ada \"Quotes\" Lovelace\u2028"
        form.fields["check"].value = True
        form.fields["integer"].value = 7
        form.buttons["accept"].click()

    helper = threading.Thread(target=user)
    helper.start()
    with capture_output() as shown:
        cell = shell.run_cell("res = conn.call_tool('trigger-elicitation-request', {})")
    helper.join(30)
    assert cell.success, cell.error_in_exec
    text = shell.user_ns["res"].text
    assert "Ada \\\"Quotes\\\" Lovelace" in text and '"integer": 7' in text
    assert "It was a dark and stormy night." in text  # an untouched field kept its schema default
    assert any("VBox" in (o.data.get("text/plain") or "") for o in shown.outputs)  # the form showed in the cell
    assert [n.detail["action"] for n in conn.notifications if n.what == "elicitation"] == ["accept"]
    with capture_output() as shown:
        cell = shell.run_cell("conn.call_tool('trigger-long-running-operation', {'duration': 1, 'steps': 2})")
    assert cell.success and any("FloatProgress" in (o.data.get("text/plain") or "") for o in shown.outputs)
    conn.close()
    shell.user_ns.pop("conn", None)


def test_headless_elicitation_declines_with_a_warning(node_bin: Path) -> None:
    conn = _everything(node_bin, elicitation="auto")
    with pytest.warns(RuntimeWarning, match="nobody can answer here"):
        out = conn.call_tool("trigger-elicitation-request", {})
    assert "declined" in out.text
    conn.close()


def test_progress_logs_roots_and_cancellation(node_bin: Path, tmp_path: Path) -> None:
    conn = _everything(node_bin, elicitation="decline", roots=[tmp_path])
    assert str(tmp_path) in conn.call_tool("get-roots-list", {}).text
    seen: list[tuple[float, float | None]] = []
    with ev.collecting("run-progress") as bucket, ev.running("run-progress"):
        conn.call_tool("trigger-long-running-operation", {"duration": 1, "steps": 3},
                       on_progress=lambda p, total, message: seen.append((p, total)))
    assert seen == [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]
    assert [e.detail["progress"] for e in bucket if e.kind == "mcp" and e.what == "progress"] == [1.0, 2.0, 3.0]
    assert any(n.what == "log" and "Roots updated" in str(n.detail["data"]) for n in conn.notifications)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        conn.call_tool("trigger-long-running-operation", {"duration": 30, "steps": 30})
    assert time.monotonic() - started < 10
    _wait(lambda: any(n.what == "cancelled" for n in conn.notifications))
    assert "Echo: still here" in conn.call_tool("echo", {"message": "still here"}).text
    conn.close()


def test_ping_warns_about_nothing_on_either_protocol(node_bin: Path) -> None:
    import warnings

    from kaizen_lab.mcp import AgentMCPServer
    from tests.mcp.agents_app import qa

    legacy = _everything(node_bin, elicitation="decline")
    with AgentMCPServer([qa]).serve("http", auth=False) as handle:
        modern = connect(handle.url, shared=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert legacy.ping() > 0 and modern.ping() > 0
        assert str(modern.protocol_version) >= "2026" and str(legacy.protocol_version) < "2026"
        modern.close()
    legacy.close()
