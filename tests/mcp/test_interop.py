"""Interoperability with MCP software this project did not write (npm): the reference "everything" server and
the official MCP Inspector CLI, which lists and calls our agent server's tools over stdio and HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kaizen_lab.agents import Agent
from kaizen_lab.mcp import AgentMCPServer, connect
from tests.mcp.agents_app import adder, qa
from tests.mcp.conftest import AGENTS_APP


def _inspector(node_bin: Path, *args: str) -> dict:
    proc = subprocess.run([str(node_bin / "mcp-inspector"), "--cli", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def test_our_client_uses_the_reference_everything_server(node_bin: Path) -> None:
    conn = connect([str(node_bin / "mcp-server-everything"), "stdio"], name="everything", connect_timeout=30)
    names = {t.name for t in conn.list_tools()}
    assert {"echo", "get-sum"} <= names
    assert "hello" in conn.call_tool("echo", {"message": "hello"}).text
    assert "5" in conn.call_tool("get-sum", {"a": 2, "b": 3}).text
    assert conn.list_prompts() and conn.list_resources()


def test_agent_binds_everything_server_tools(node_bin: Path) -> None:
    agent = Agent("ev", model="test")
    agent.connect_to_mcp_servers({"everything": {"command": str(node_bin / "mcp-server-everything"),
                                                 "args": ["stdio"]}})
    assert "Echo: ping" in agent.mcp_echo(message="ping")


def test_inspector_lists_and_calls_our_agents_over_stdio(node_bin: Path) -> None:
    cmd = [sys.executable, "-m", "kaizen_lab.mcp", "serve", f"{AGENTS_APP}:agents"]
    listed = _inspector(node_bin, *cmd, "--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}
    assert set(tools) == {"qa", "adder"}
    assert tools["adder"]["inputSchema"]["required"] == ["a", "b"]
    assert tools["adder"]["outputSchema"]["properties"]["total"]["type"] == "integer"
    called = _inspector(node_bin, *cmd, "--method", "tools/call", "--tool-name", "adder",
                        "--tool-arg", "a=4", "--tool-arg", "b=5")
    assert called["structuredContent"] == {"total": 9} and not called.get("isError")


def test_inspector_over_http_with_and_without_token(node_bin: Path) -> None:
    with AgentMCPServer([qa, adder]).serve("http") as handle:
        listed = _inspector(node_bin, handle.url, "--transport", "http", "--method", "tools/list",
                            "--header", f"Authorization: Bearer {handle.token}")
        assert {t["name"] for t in listed["tools"]} == {"qa", "adder"}
        called = _inspector(node_bin, handle.url, "--transport", "http", "--method", "tools/call",
                            "--tool-name", "qa", "--tool-arg", "question=hi",
                            "--header", f"Authorization: Bearer {handle.token}")
        assert called["structuredContent"] == {"answer": "you asked: hi"}
        refused = subprocess.run([str(node_bin / "mcp-inspector"), "--cli", handle.url, "--transport", "http",
                                  "--method", "tools/list"], capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "Authentication required" in refused.stderr
