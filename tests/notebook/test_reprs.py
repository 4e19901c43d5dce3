"""Rich reprs for the objects a notebook shows: evaluation reports, MCP connections, the monitor,
``%agent show`` and the running placeholder of ``%agent run`` (text/plain everywhere, HTML cards)."""

from __future__ import annotations

from typing import Any

from IPython.utils.capture import capture_output

from kaizen_lab.agents import Agent
from kaizen_lab.models import FunctionModel
from kaizen_lab.optimize import evaluate
from tests.notebook.conftest import cell


def test_evaluation_report_has_a_short_text_and_a_card_of_the_misses(ip: Any) -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(lambda m, i: {"answer": "APPLE"}))
    report = evaluate(agent, [{"word": "apple", "answer": "APPLE"}, {"word": "pear", "answer": "PEAR<b>"}],
                      progress=False)
    data, _ = ip.display_formatter.format(report)
    assert data["text/plain"].startswith("EvaluationReport(exact_match(*): mean 0.500, 95% CI")
    assert "records" not in data["text/plain"] and "n=2" in data["text/plain"]
    html = data["text/html"]
    assert "kaizen-evaluation" in html and "PEAR&lt;b&gt;" in html and "<b>0.500</b>" in html
    assert "apple" not in html  # only the examples that missed are listed


def test_mcp_connection_card_shows_status_transport_and_tools(ip: Any) -> None:
    from kaizen_lab.mcp import connect
    from kaizen_lab.mcp.server import AgentMCPServer

    server = AgentMCPServer([Agent("echo", "text -> reply", model="test")], name="demo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    conn = connect(server.build(), name="demo", shared=False)
    try:
        conn.list_tools()
        assert conn.call("add", {"a": 1, "b": 2}) in (3, "3")
        data, _ = ip.display_formatter.format(conn)
    finally:
        conn.close()
    assert data["text/plain"].startswith("MCPConnection('demo'")
    html = data["text/html"]
    assert "kaizen-mcp" in html and "ready" in html and "<b>add</b>" in html and "<b>echo</b>" in html
    assert "1 calls, 0 errors" in html


def test_monitor_card_says_whether_it_records_and_what(ip: Any) -> None:
    from kaizen_lab.tracing.monitor import TransparencyMonitor

    monitor = TransparencyMonitor(store=":memory:")
    data, _ = ip.display_formatter.format(monitor)
    assert data["text/plain"].startswith("TransparencyMonitor (not started)") and "start_monitoring" in data[
        "text/plain"]
    monitor.start_monitoring()
    try:
        Agent("qa", "question -> answer", model="test").execute(question="x")
        data, _ = ip.display_formatter.format(monitor)
    finally:
        monitor.stop_monitoring()
    assert data["text/plain"].startswith("TransparencyMonitor (monitoring)")
    assert "runs recorded: 1" in data["text/plain"] and "agents: qa" in data["text/plain"]
    assert "kaizen-monitor" in data["text/html"]


def test_agent_show_carries_text_and_html_beside_the_figure(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    view = cell(ip, "%agent show qa")
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"].splitlines()[0] == "agent qa: 3 nodes, 2 connections"
    assert "input → model" in bundle["text/plain"] and "kaizen-workflow" in bundle["text/html"]
    assert view.figure.layout.meta["nodes"] == ["input", "model", "output"]


def test_running_placeholder_has_text_not_an_object_repr(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    with capture_output() as captured:
        cell(ip, '%agent run qa question="x"')
    first = captured.outputs[0].data
    assert first["text/plain"] == "running…" and "<IPython" not in first["text/plain"]
    assert all("<IPython" not in o.data.get("text/plain", "") for o in captured.outputs)
