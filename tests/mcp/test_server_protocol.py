"""kaizen-lab's MCP server beyond tools, seen through kaizen-lab's client over streamable HTTP: its version and
capabilities, log messages and progress while an agent runs, completions for ``Literal`` inputs, and an agent
that samples through the calling application's model (``ClientModel``)."""

from __future__ import annotations

import json

import pytest

from kaizen_lab import __version__
from kaizen_lab.agents import Agent
from kaizen_lab.errors import ModelError
from kaizen_lab.mcp import AgentMCPServer, ClientModel, connect
from kaizen_lab.models.testing import FunctionModel


def _routes(messages, info):  # noqa: ANN001, ANN202
    return json.dumps({"route": "desk"})


def test_served_agent_logs_reports_progress_completes_and_samples_the_callers_model() -> None:
    triage = Agent("triage", "ticket: str, priority: Literal['low', 'lower', 'high'] -> route: str",
                   model=FunctionModel(_routes, name="triage"))
    helper = Agent("helper", "question: str -> answer: str", model=ClientModel())
    caller_model = FunctionModel(lambda messages, info: json.dumps({"answer": "from the caller's model"}),
                                 name="caller")
    with AgentMCPServer([triage, helper]).serve("http") as handle:
        conn = connect(handle, shared=False, sampling_model=caller_model)
        assert conn.server_name == "kaizen-lab" and conn._client.server_info.version == __version__
        assert {"logging", "completions", "prompts", "tools"} <= set(conn.info()["capabilities"])
        steps: list[float] = []
        result = conn.call_tool("triage", {"ticket": "printer on fire", "priority": "high"},
                                on_progress=lambda p, total, message: steps.append(p))
        assert result.structured == {"route": "desk"}
        assert steps and steps == sorted(steps)
        logs = [n.detail["data"] for n in conn.notifications if n.what == "log"]
        assert "agent 'triage' started" in logs and "agent 'triage' finished" in logs
        assert conn.complete("prompt:triage", "priority", "l") == ["low", "lower"]
        assert conn.complete("prompt:triage", "priority", "") == ["low", "lower", "high"]
        sampled = conn.call_tool("helper", {"question": "who answers?"})
        assert sampled.structured == {"answer": "from the caller's model"}, sampled.text
        assert [n.detail["model"] for n in conn.notifications if n.what == "sampling"] == ["function:caller"]
        conn.close()


@pytest.mark.parametrize(("level", "heard"), [("info", True), ("warning", False)])
def test_log_level_a_client_sets_holds_for_its_later_calls(level: str, heard: bool) -> None:
    # the 2025 handshake: the client asks logging/setLevel once; each later request has a new session object
    triage = Agent("triage", "ticket: str -> route: str", model=FunctionModel(_routes, name="triage"))
    with AgentMCPServer([triage]).serve("http", auth=False) as handle:
        conn = connect(handle, shared=False, protocol="legacy", log_level=level)
        assert conn.call_tool("triage", {"ticket": "printer on fire"}).structured == {"route": "desk"}
        logs = [n.detail["data"] for n in conn.notifications if n.what == "log"]
        assert ("agent 'triage' started" in logs) is heard, logs
        conn.close()


def test_client_model_outside_a_call_needs_a_fallback() -> None:
    lonely = Agent("lonely", "question: str -> answer: str", model=ClientModel(), max_retries=0)
    with pytest.raises(ModelError, match="fallback="):
        lonely.execute(question="hi")
    backed = Agent("backed", "question: str -> answer: str", model=ClientModel(fallback="test"))
    assert backed.execute(question="hi").data is not None


def test_client_cancelling_a_call_cancels_the_agent_run() -> None:
    import _thread
    import asyncio
    import threading
    import time

    cancelled = threading.Event()

    async def slow(messages, info):  # noqa: ANN001, ANN202
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return json.dumps({"answer": "too late"})

    sleeper = Agent("sleeper", "question: str -> answer: str", model=FunctionModel(slow, name="slow"))
    with AgentMCPServer([sleeper]).serve("http") as handle:
        conn = connect(handle, shared=False)
        threading.Timer(1.5, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            conn.call_tool("sleeper", {"question": "wait"})
        assert cancelled.wait(10), "the server kept running the agent after the client cancelled"
        assert _wait_cancelled(conn, time)
        conn.close()


def _wait_cancelled(conn, time) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(n.what == "cancelled" for n in conn.notifications):
            return True
        time.sleep(0.05)
    return False


def test_terminal_prompt_answers_from_stdin() -> None:
    import subprocess
    import sys

    script = ("import json; from kaizen_lab.mcp._forms import terminal_answer\n"
              "schema = {'type': 'object', 'properties': {'name': {'type': 'string'}, "
              "'age': {'type': 'integer', 'default': 30}, 'ok': {'type': 'boolean'}}}\n"
              "a = terminal_answer('srv', 'who are you?', schema)\n"
              "print(json.dumps([a.action, a.content]))")
    done = subprocess.run([sys.executable, "-c", script], input="a\nAda \"Q\" Lovelace\n\ny\n", text=True,
                          capture_output=True, timeout=60)
    assert _last_json(done.stdout) == \
        ["accept", {"name": 'Ada "Q" Lovelace', "ok": True, "age": 30}]
    assert "who are you?" in done.stderr
    declined = subprocess.run([sys.executable, "-c", script], input="d\n", text=True, capture_output=True,
                              timeout=60)
    assert _last_json(declined.stdout) == ["decline", None]


def _last_json(out: str) -> object:
    line = out.strip().splitlines()[-1]  # input() prompts share the line
    return json.loads(line[line.index('["'):])
