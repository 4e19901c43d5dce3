"""``MCPToolNode`` in a compiled Kailash workflow, sharing the pooled session with notebook-style calls."""

from __future__ import annotations

from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

import kaizen_lab.mcp.nodes  # noqa: F401 - registers MCPToolNode
from kaizen_lab.mcp import connect, connections
from tests.mcp.conftest import CALC_SERVER


def test_workflow_calls_mcp_tools_and_shares_the_session() -> None:
    conn = connect(CALC_SERVER)
    wb = WorkflowBuilder()
    wb.add_node("MCPToolNode", "add", {"server": {"command": CALC_SERVER[0], "args": CALC_SERVER[1:]},
                                       "tool": "add", "arguments": {"a": 20, "b": 1}})
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(wb.build())
    assert results["add"]["result"] == 21
    assert [c for c in connections() if c.name == "calc_notes"] == [conn]  # one pooled session
    assert conn.calls >= 1


def test_tool_error_fails_the_node() -> None:
    wb = WorkflowBuilder()
    wb.add_node("MCPToolNode", "div", {"server": {"command": CALC_SERVER[0], "args": CALC_SERVER[1:]},
                                       "tool": "divide", "arguments": {"a": 1, "b": 0}})
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(wb.build())
    assert results["div"].get("failed") and "cannot divide by zero" in results["div"]["error"]


def test_node_config_round_trips_as_json() -> None:
    wb = WorkflowBuilder()
    wb.add_node("MCPToolNode", "t", {"server": "python -m mcp_server_time", "tool": "get_current_time",
                                     "arguments": {"timezone": "UTC"}})
    data = wb.build().to_dict()
    assert data["nodes"]["t"]["config"]["server"] == "python -m mcp_server_time"


def test_missing_tool_name_is_reported() -> None:
    wb = WorkflowBuilder()
    wb.add_node("MCPToolNode", "t", {"server": CALC_SERVER, "tool": ""})
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(wb.build())
    assert "needs tool=" in results["t"]["error"]
