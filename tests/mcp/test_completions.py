"""Completion values in the MCP discovery panel: kaizen-lab's client asks a real kaizen-lab server (the
conformance fixtures beside an agent with a ``Literal`` input) for every prompt argument and template variable,
and the panel and the connection card show what it offered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_lab.mcp import connect, summary
from kaizen_lab.mcp._catalog import template_variables
from kaizen_lab.notebook.display import mcp_connection_html
from kaizen_lab.notebook.panels import mcp_figure
from tests.mcp.conformance_server import server as fixtures_server


@pytest.fixture(scope="module")
def handle() -> Iterator[Any]:
    with fixtures_server.serve("http", auth=False) as served:
        yield served


def test_catalog_asks_every_prompt_argument_and_template_variable(handle: Any) -> None:
    conn = connect(handle, shared=False)
    catalog = conn.completion_catalog()
    assert catalog["prompt:triage"] == {"ticket": [], "priority": ["low", "lower", "high", "urgent"]}
    assert catalog["prompt:test_prompt_with_arguments"]["arg1"] == ["paris", "park", "party", "london"]
    assert catalog["resource:test://template/{id}/data"] == {"id": ["1", "12", "123"]}
    # a prefixed question answers the caller but does not replace the whole list the panel shows
    assert conn.complete("prompt:triage", "priority", "lo") == ["low", "lower"]
    assert conn.info()["completions"]["prompt:triage"]["priority"] == ["low", "lower", "high", "urgent"]
    conn.close()


def test_panel_shows_completion_values_of_prompts_and_templates(handle: Any) -> None:
    conn = connect(handle, name="fixtures")  # pooled, so summary() sees it
    servers = summary(completions=True)["servers"]
    fig = mcp_figure(servers)
    tm = fig.data[0]
    hover = dict(zip(tm.ids, tm.hovertext, strict=True))
    prompt = hover["server:fixtures/prompt:triage"]
    assert "ticket: (no completion values)" in prompt and "priority → low, lower, high, urgent" in prompt
    template = hover["server:fixtures/template:test://template/{id}/data"]
    assert "id → 1, 12, 123" in template
    assert tm.parents[list(tm.ids).index("server:fixtures/prompt:triage")] == "server:fixtures"
    meta = fig.layout.meta["servers"][0]
    triage = next(p for p in meta["prompts"] if p["name"] == "triage")
    assert triage["completions"] == {"ticket": [], "priority": ["low", "lower", "high", "urgent"]}
    assert "<code>prompt:triage</code> priority → low, lower, high, urgent" in mcp_connection_html(conn)


def test_panel_escapes_server_text() -> None:
    fig = mcp_figure([{"name": "s", "status": "up", "tools": [],
                       "prompts": [{"name": "p", "description": "<img src=x onerror=alert(1)>",
                                    "arguments": ["a"]}],
                       "completions": {"prompt:p": {"a": ["<script>alert(1)</script>"]}}}])
    text = fig.data[0].hovertext[-1]
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text


def test_template_variables_follow_rfc_6570() -> None:
    assert template_variables("file:///{+path}{?q,page*}#{frag:3}") == ["path", "q", "page", "frag"]
    assert template_variables("demo://resource/{id}/{id}") == ["id"]
