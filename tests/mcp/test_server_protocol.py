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


def test_client_model_outside_a_call_needs_a_fallback() -> None:
    lonely = Agent("lonely", "question: str -> answer: str", model=ClientModel(), max_retries=0)
    with pytest.raises(ModelError, match="fallback="):
        lonely.execute(question="hi")
    backed = Agent("backed", "question: str -> answer: str", model=ClientModel(fallback="test"))
    assert backed.execute(question="hi").data is not None
