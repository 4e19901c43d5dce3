"""An agent using MCP tools: binding, ``agent.mcp_<tool>``, the model's tool loop, list changes, discovery."""

from __future__ import annotations

import json
import time

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import MCPError
from kaizen_lab.models.testing import FunctionModel
from tests.mcp.conftest import CALC_SERVER, TIME_SERVER


@pytest.mark.slow
def test_connected_tools_are_bound_and_callable() -> None:
    agent = Agent("helper", model="test")
    agent.connect_to_mcp_servers([TIME_SERVER, CALC_SERVER])
    assert {"get_current_time", "add"} <= set(agent.tools.names())
    assert agent.tools.get("add").source == "mcp"
    assert agent.mcp_add(a=1.5, b=2) == 3.5
    assert agent.mcp.get_current_time(timezone="UTC")["timezone"] == "UTC"
    assert len(agent.mcp_connections) == 2
    with pytest.raises(AttributeError, match="did you mean 'add'"):
        agent.mcp_ad  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        agent.not_there  # noqa: B018
    assert agent.mcp.resources()["calc_notes"][0]["uri"] == "notes://all"
    assert "explain" in [p["name"] for p in agent.mcp.prompts()["calc_notes"]]


def test_model_calls_mcp_tool_in_the_tool_loop() -> None:
    from kaizen_lab.models.base import ModelResponse, ToolCall

    def model(messages, info):  # noqa: ANN001, ANN202
        if messages[-1].role == "tool":
            return json.dumps({"answer": f"sum is {messages[-1].content}"})
        assert "multiply" in [t.name for t in info.tools]
        return ModelResponse(text="", tool_calls=(ToolCall("c1", "multiply", {"a": 6, "b": 7}),))

    agent = Agent("calc", "question: str -> answer: str", model=FunctionModel(model))
    agent.connect_to_mcp_servers({"calc": {"command": CALC_SERVER[0], "args": CALC_SERVER[1:]}})
    result = agent.execute(question="6 times 7?")
    assert result.answer == "sum is 42.0"
    called = [e for e in result.events if type(e).__name__ == "ToolCalled"]
    assert called[0].source == "mcp" and called[0].error is None


def test_tool_error_goes_back_to_the_model_as_text() -> None:
    agent = Agent("calc2", model="test")
    agent.connect_to_mcp_servers([CALC_SERVER])
    with pytest.raises(MCPError, match="cannot divide by zero"):
        agent.mcp_divide(a=1, b=0)


def test_binding_follows_tools_list_changed() -> None:
    agent = Agent("grow", model="test")
    agent.connect_to_mcp_servers([CALC_SERVER])
    assert "power" not in agent.tools
    agent.mcp_enable_power()
    deadline = time.monotonic() + 5
    while "power" not in agent.tools and time.monotonic() < deadline:
        time.sleep(0.02)
    assert agent.mcp_power(base=3, exponent=2) == 9


@pytest.mark.slow
def test_enable_mcp_tools_discovers_by_capability(tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps({"mcpServers": {
        "time": {"command": TIME_SERVER[0], "args": TIME_SERVER[1:]},
        "calc": {"command": CALC_SERVER[0], "args": CALC_SERVER[1:]}}}))
    agent = Agent("clock", model="test")
    tools = agent.enable_mcp_tools(["timezone"], config_files=[config], max_services=1)
    assert {t.name for t in tools} == {"get_current_time", "convert_time"}
    assert "add" not in agent.tools
    with pytest.raises(MCPError, match="no reachable MCP server offers"):
        Agent("none", model="test").enable_mcp_tools(["quantum teleport"], config_files=[config])


def test_servers_named_in_the_kaizen_config() -> None:
    from kaizen_lab.config import KaizenConfig

    config = KaizenConfig(mcp_integration={"servers": {"clock": {"command": TIME_SERVER[0],
                                                                  "args": TIME_SERVER[1:]}},
                                           "call_timeout": 7.0})
    agent = Agent("configured", model="test", config=config)
    (conn,) = agent.connect_to_mcp_servers("clock")
    assert conn.name == "clock" and conn.call_timeout == 7.0
    assert agent.mcp_get_current_time(timezone="UTC")["timezone"] == "UTC"
    assert agent.mcp.summary()[0]["used_by"] == ["configured"]
