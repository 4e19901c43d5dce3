"""Agents as MCP servers: schemas, typed errors, several agents, HTTP bearer auth, stdio console entry."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import MCPError, UserError
from kaizen_lab.mcp import AgentMCPServer, connect
from tests.mcp.agents_app import adder, qa
from tests.mcp.conftest import AGENTS_APP, ROOT

_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
_ACCEPT = {"Accept": "application/json, text/event-stream"}


def test_each_agent_is_a_tool_with_signature_schemas() -> None:
    conn = connect(AgentMCPServer([qa, adder]).build(), name="agents")
    tools = {t.name: t for t in conn.list_tools()}
    assert set(tools) == {"qa", "adder"}
    assert tools["adder"].input_schema["required"] == ["a", "b"]
    assert tools["adder"].input_schema["properties"]["a"]["type"] == "integer"
    assert tools["adder"].output_schema["properties"]["total"]["type"] == "integer"
    assert tools["adder"].description == "Add two integers."
    result = conn.call_tool("adder", {"a": 2, "b": 40})
    assert not result.is_error and result.structured == {"total": 42}


def test_agent_errors_come_back_as_typed_is_error_results() -> None:
    conn = connect(AgentMCPServer([qa]).build(), name="qa-only")
    result = conn.call_tool("qa", {"questoin": "hi"})
    assert result.is_error
    assert result.text.startswith("UserError: unknown input 'questoin' (did you mean 'question'?)")


def test_duplicate_agent_ids_are_refused() -> None:
    with pytest.raises(UserError, match="different agent_ids"):
        AgentMCPServer([qa, Agent("qa", model="test")])


def test_http_requires_token_and_serves_with_it() -> None:
    with qa.expose_as_mcp_server("http") as handle:
        assert handle.url.startswith("http://127.0.0.1:") and handle.token
        assert httpx.post(handle.url, json=_LIST, headers=_ACCEPT).status_code == 401
        wrong = {**_ACCEPT, "Authorization": "Bearer " + "x" * 32}
        assert httpx.post(handle.url, json=_LIST, headers=wrong).status_code == 401
        with pytest.raises(MCPError, match="HTTP 401"):
            connect({"url": handle.url}, name="no-token", shared=False)
        conn = connect(handle)
        assert conn.call("qa", {"question": "over http"}) == {"answer": "you asked: over http"}
    assert not handle.running


def test_http_without_auth_when_explicitly_disabled() -> None:
    with AgentMCPServer([adder]).serve("http", auth=False) as handle:
        assert handle.token is None
        assert httpx.post(handle.url, json=_LIST, headers=_ACCEPT).status_code != 401
        assert connect(handle).call("adder", {"a": 1, "b": 2}) == {"total": 3}


def test_console_entry_serves_agents_over_stdio() -> None:
    conn = connect([sys.executable, "-m", "kaizen_lab.mcp", "serve", f"{AGENTS_APP}:agents"], name="cli",
                   connect_timeout=30)
    assert {t.name for t in conn.list_tools()} == {"qa", "adder"}
    assert conn.call("adder", {"a": 20, "b": 22}) == {"total": 42}


def test_cli_reports_a_bad_target() -> None:
    proc = subprocess.run([sys.executable, "-m", "kaizen_lab.cli", "mcp", "serve", f"{AGENTS_APP}:nope"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "has no 'nope'" in proc.stderr
