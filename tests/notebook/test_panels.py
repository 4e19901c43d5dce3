"""Panel figures: structure, colours by status, hover fields, axis values; offline HTML export."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kaizen_lab import events as ev
from kaizen_lab.agents.agent import Agent
from kaizen_lab.notebook.panels import (
    STATUS_COLORS,
    cache_figure,
    compare_figure,
    graph_figure,
    latency_figure,
    live_graph,
    mcp_figure,
    performance_figure,
    show_graph,
    timeline_figure,
    to_html,
    tokens_figure,
    update_graph,
)
from kaizen_lab.notebook.panels.performance import percentile
from kaizen_lab.runtime.stepper import Stepper


def edge_segments(trace: Any) -> int:
    """Number of polylines in a lines trace (each ends with a None separator)."""
    return sum(1 for x in trace.x if x is None)


def node_shapes(fig: Any) -> dict[str, Any]:
    return {sh.name.split(":", 1)[1]: sh for sh in fig.layout.shapes if (sh.name or "").startswith("node:")}


def boxes_overlap(a: list[float], b: list[float]) -> bool:
    return abs(a[0] - b[0]) * 2 < a[2] + b[2] and abs(a[1] - b[1]) * 2 < a[3] + b[3]


def pipeline_workflow() -> Any:
    from kaizen_lab.patterns.pipeline import PipelinePattern

    stages = [Agent("clean", "text: str -> cleaned: str", model="test"),
              Agent("summarise", "cleaned: str -> summary: str", model="test"),
              Agent("translate", "summary: str -> translation: str", model="test")]
    return PipelinePattern(stages).to_workflow(["text"])


def test_pipeline_graph_has_a_node_per_stage_arrows_and_layers() -> None:
    wf = pipeline_workflow()
    built = wf.build()
    n_nodes, n_edges = len(list(built.graph.nodes())), len(list(built.graph.edges()))
    fig = graph_figure(wf)
    edges, back, nodes = fig.data[:3]
    assert (edges.name, back.name, nodes.name) == ("edges", "loop edges", "nodes")
    assert len(nodes.x) == n_nodes >= 3 and edge_segments(edges) == n_edges and len(back.x) == 0
    arrows = [a for a in fig.layout.annotations if a.name == "arrow"]
    assert len(arrows) == n_edges and all(a.showarrow and a.arrowhead for a in arrows)
    assert {sh.line.color for sh in node_shapes(fig).values()} == {STATUS_COLORS["pending"]}
    assert all(t.startswith("○ ") for t in nodes.text)  # status icon, not only colour
    assert len({round(y, 3) for y in nodes.y}) >= 3  # layered: a chain spreads over layers
    legend = [t.name for t in fig.data[3:]]
    assert legend == ["○ pending", "▶ running", "✓ done", "✗ failed", "↷ skipped"]


def test_consensus_labels_never_overlap_and_boxes_hold_full_names() -> None:
    from kaizen_lab.patterns import ConsensusPattern

    reviewers = [Agent(f"reviewer_{i}", "question -> decision: str, confidence: float", model="test")
                 for i in (1, 2, 3)]
    fig = show_graph(ConsensusPattern(reviewers))
    geo = fig.layout.meta["geometry"]
    labels = [e["box"] for e in geo["edges"] if e["box"]]
    assert len(labels) == 3
    nodes = [[n["x"], n["y"], n["w"], n["h"]] for n in geo["nodes"]]
    for i, a in enumerate(labels):
        assert not any(boxes_overlap(a, b) for b in labels[i + 1:] + nodes), a
    for n in geo["nodes"]:  # the box is wide enough for icon + full name at a generous 7.6 px a character
        assert n["w"] >= 7.6 * (len(n["id"]) + 2)
        assert 0 <= n["x"] - n["w"] / 2 and n["x"] + n["w"] / 2 <= geo["width"]
    texts = list(fig.data[2].text)
    assert "○ reviewer_2" in texts and fig.layout.width >= geo["width"]


def test_debate_loop_edge_is_routed_around_the_nodes(debate_workflow: Any) -> None:
    fig = graph_figure(debate_workflow)
    edges, back, nodes = fig.data[:3]
    assert list(nodes.customdata) == ["debater_pro", "debater_con", "judge"]
    assert edge_segments(edges) == 2 and edge_segments(back) == 1 and back.line.dash == "dash"
    assert ["debater_con", "debater_pro", True] in [list(e) for e in fig.layout.meta["edges"]]
    geo = fig.layout.meta["geometry"]
    loop = next(e for e in geo["edges"] if e["cycle"])
    lane_x = loop["points"][1][0]
    assert all(lane_x > n["x"] + n["w"] / 2 for n in geo["nodes"])  # the lane runs right of every node


def test_failed_run_colours_icons_and_compact_hover() -> None:
    from kaizen_lab.models.testing import FunctionModel

    agent = Agent("qa", "question: str -> answer: int", model=FunctionModel(lambda m, i: {"answer": "x"}),
                  max_retries=0)
    s = Stepper.for_agent(agent, question="why?")
    s.continue_()
    fig = graph_figure(s)
    colours = {n: sh.line.color for n, sh in node_shapes(fig).items()}
    assert colours == {"input": STATUS_COLORS["done"], "model": STATUS_COLORS["failed"],
                       "output": STATUS_COLORS["skipped"]}
    nodes = fig.data[2]
    assert list(nodes.text) == ["✓ input", "✗ model", "↷ output"]
    hover = dict(zip(nodes.customdata, nodes.hovertext, strict=True))
    assert "KaizenModelNode" in hover["model"] and "✗ failed" in hover["model"]
    assert " ms" in hover["input"] and "why?" not in hover["input"]  # details go to the state panel
    assert all(len(h) < 160 for h in hover.values())


def test_current_node_ring_reason_breakpoints_and_live_update() -> None:
    s = Stepper.for_agent(Agent("qa", "question -> answer", model="test"), question="q")
    s.add_breakpoint("output")
    widget = live_graph(s)
    s.step()
    update_graph(widget, s.status(), current=s.current_node, records=s.nodes, workflow=s, stop_reason="step")
    names = [sh.name for sh in widget.layout.shapes]
    assert "current:model" in names and "breakpoint:output" in names and "current:input" not in names
    reason = [a.text for a in widget.layout.annotations if a.name == "stop-reason"]
    assert reason == ["‖ step"]
    assert widget.data[2].text[0] == "✓ input"


def test_dark_theme_figures_have_dark_text_on_a_transparent_background() -> None:
    from kaizen_lab.notebook.theme import PALETTES, contrast_ratio

    fig = graph_figure(pipeline_workflow(), theme="dark")
    layout = fig.layout.template.layout
    assert layout.paper_bgcolor == "rgba(0,0,0,0)" and layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert layout.font.color == PALETTES["dark"]["text"]
    for theme, bg in (("light", "#ffffff"), ("dark", "#111111")):
        p = PALETTES[theme]
        assert contrast_ratio(p["text"], bg) >= 4.5 and contrast_ratio(p["muted"], bg) >= 4.5
        assert all(contrast_ratio(c, bg) >= 4.5 for c in p["status"].values())


def test_show_graph_accepts_agents_and_patterns(debate_workflow: Any) -> None:
    from kaizen_lab.patterns.debate import DebatePattern
    from tests.runtime.conftest import debater

    pattern = DebatePattern([debater("a", ["x"]), debater("b", ["y"])], rounds=2)
    assert edge_segments(show_graph(pattern).data[1]) == 1  # its round cycle
    agent = Agent("qa", "question -> answer", model="test")
    assert list(show_graph(agent).data[2].customdata) == ["input", "model", "output"]
    assert list(agent.panel().layout.meta["nodes"]) == ["input", "model", "output"]


def run_events(n: int = 3) -> list[Any]:
    agent = Agent("qa", "question -> answer", model="test", cache=True)
    return [agent.execute(question=f"q{i % 2}") for i in range(n)]


def test_timeline_has_a_bar_per_step_with_offsets() -> None:
    result = run_events(1)[0]
    fig = timeline_figure(result)
    bar = fig.data[0]
    steps = [e for e in result.events if e.kind == "step_finished"]
    assert len(bar.y) == len(steps) and bar.orientation == "h"
    assert min(bar.base) == 0 and all(b >= 0 for b in bar.base)
    assert list(bar.x) == pytest.approx([e.duration_ms for e in steps])


def test_latency_percentiles_and_tokens_and_cache() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([10], 95) == 10
    fig = latency_figure([10.0, 20.0, 30.0, 40.0, 100.0])
    assert fig.layout.meta["p50"] == 30.0 and fig.layout.meta["p95"] == pytest.approx(88.0)
    assert len(fig.layout.shapes) == 2
    results = run_events(4)
    tok = tokens_figure(results)
    calls = [e for r in results for e in r.events if e.kind == "model_called"]
    assert tok.data[0].y[0] == sum(e.input_tokens for e in calls)
    cache = cache_figure(results)
    assert cache.layout.meta["calls"] == 4 and cache.layout.meta["hits"] == 2


def test_compare_and_dashboard() -> None:
    fig = compare_figure({"p50 ms": 100.0, "accuracy": 0.5}, {"p50 ms": 50.0, "accuracy": 0.75})
    assert fig.layout.meta["change"] == {"p50 ms": -0.5, "accuracy": 0.5}
    assert [t.name for t in fig.data] == ["before", "after"]
    dash = performance_figure(run_events(2))
    assert dash.layout.meta["runs"] == 2 and len(dash.data) >= 5


def test_mcp_panel_servers_tools_and_users() -> None:
    servers = [
        {"name": "time", "transport": "stdio", "status": "up", "latency_ms": 3.5, "last_error": None,
         "tools": [{"name": "get_time", "description": "now", "input_schema": {
             "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}]},
        {"name": "files", "transport": "http", "status": "down", "latency_ms": None,
         "last_error": "connection refused", "tools": []},
    ]
    fig = mcp_figure(servers, {"qa": ["get_time"]})
    tm = fig.data[0]
    assert list(tm.labels) == ["MCP servers", "time", "get_time", "files"]
    assert list(tm.parents) == ["", "mcp", "server:time", "mcp"]
    assert tm.marker.colors[1] == "#43a047" and tm.marker.colors[3] == "#e53935"
    assert "tz*: string" in tm.hovertext[2] and "used by: qa" in tm.hovertext[2]
    assert "connection refused" in tm.hovertext[3]
    assert fig.layout.meta["servers"][0]["tools"][0]["used_by"] == ["qa"]


def test_to_html_embeds_plotly_js(tmp_path: Any) -> None:
    path = to_html(graph_figure({"nodes": {"a": "T", "b": "T"}, "edges": [("a", "b", {"x": "y"}, False)]}),
                   tmp_path / "g.html")
    text = path.read_text()
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js itself is inline
    assert not re.search(r"<script[^>]+src=", text)  # nothing fetched when opened offline


def test_events_dicts_feed_the_timeline() -> None:
    events = [ev.event_to_dict(e) for e in run_events(1)[0].events]
    assert len(timeline_figure(events).data[0].y) == sum(1 for e in events if e["kind"] == "step_finished")


def test_edges_show_the_data_that_flowed() -> None:
    s = Stepper.for_agent(Agent("qa", "question -> answer", model="test"), question="what flows?")
    s.step()
    labels = [a for a in graph_figure(s).layout.annotations if a.name == "edge-label"]
    first, second = (f"{a}→{b}" for _, _, m, _ in s.edges for a, b in m.items())
    hovers = {a.text: a.hovertext for a in labels}
    assert "value:" in hovers[first] and "what flows?" in hovers[first]  # shown on hover, the label stays short
    assert "value:" not in hovers[second]  # the model has not run: no data on its edge yet


def test_tokens_per_agent() -> None:
    a = Agent("alpha", "question -> answer", model="test")
    b = Agent("beta", "question -> answer", model="test")
    fig = tokens_figure([a.execute(question="x"), b.execute(question="y"), b.execute(question="z")], by="agent")
    assert list(fig.data[0].x) == ["alpha", "beta"]
    assert fig.data[0].y[1] > fig.data[0].y[0]  # two runs of beta


def test_live_timeline_grows_during_runs() -> None:
    from kaizen_lab.notebook.panels import live_timeline

    widget = live_timeline(agent_id="qa")
    try:
        result = Agent("qa", "question -> answer", model="test").execute(question="q")
        Agent("other", "question -> answer", model="test").execute(question="q")
    finally:
        widget._kaizen_stop()
    steps = [e for e in result.events if e.kind == "step_finished"]
    assert len(widget.data[0].y) == len(steps) > 0


def test_empty_panels_say_so_instead_of_drawing_empty_grids() -> None:
    for fig in (latency_figure([]), tokens_figure([]), cache_figure([]), timeline_figure([]),
                performance_figure([])):
        assert "run an agent first" in fig.layout.meta["empty"]
        assert any(a.name == "empty-state" and "run an agent first" in a.text for a in fig.layout.annotations)
    assert latency_figure([]).layout.xaxis.visible is False


def test_unknown_cost_is_na_text_never_an_axis() -> None:
    unknown = [ev.ModelCalled(run_id="r", model="m", input_tokens=5, output_tokens=2, cost=None)]
    fig = tokens_figure(unknown)
    assert fig.layout.meta["cost"] == {"m": None}
    assert fig.data[2].visible is False and "yaxis2" not in fig.layout.to_plotly_json()
    assert list(fig.data[1].text) == ["cost n/a"]
    known = tokens_figure(unknown + [ev.ModelCalled(run_id="r", model="k", input_tokens=1, cost=0.002)])
    assert list(known.data[2].x) == ["k"] and list(known.data[1].text) == ["cost n/a", "$0.0020"]
    assert known.layout.yaxis2.title.text == "cost ($)"
    dash = performance_figure(run_events(1))
    assert not any(t.name == "cost ($)" for t in dash.data)  # the test model reports no cost


def test_timeline_colours_by_kind_and_marks_failures() -> None:
    from kaizen_lab.notebook.theme import PALETTES

    events = [ev.StepFinished(run_id="r", step="model", name="call", duration_ms=5, ts=1.0),
              ev.ModelCalled(run_id="r", model="m", duration_ms=4, ts=1.0),
              ev.StepFinished(run_id="r", step="parse", name="parse", status="error", error="bad", duration_ms=1,
                              ts=1.002)]
    fig = timeline_figure(events, theme="light")
    steps, models, tools = fig.data
    kinds = PALETTES["light"]["kinds"]
    assert list(steps.marker.color) == [kinds["step"], kinds["error"]]
    assert list(steps.marker.pattern.shape) == ["", "x"] and steps.y[1].startswith("✗ ")
    assert list(models.marker.color) == [kinds["model"]] and len(tools.y) == 0 and not tools.showlegend
