"""Static fallbacks: Plotly figures carry an image and offline HTML; widgets a text and HTML summary."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go
import pytest
from IPython.display import display
from IPython.utils.capture import capture_output

from kaizen_lab import Kaizen
from kaizen_lab.errors import ConfigError
from kaizen_lab.notebook.static import configure, figure_bundle, widget_bundle

CHROMIUM = os.path.exists("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM and os.environ.get("CI") != "true",
                                    reason="no Chromium (make test installs it)")


@pytest.fixture(autouse=True)
def _default_format() -> Iterator[None]:
    configure("svg")
    yield
    configure("svg")


def _bar() -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2], name="score"), layout={"title": "scores"})


@needs_chromium
def test_figure_bundle_carries_plotly_json_an_svg_and_offline_html() -> None:
    fig = _bar()
    bundle = figure_bundle(fig)
    plotly_json = bundle["application/vnd.plotly.v1+json"]
    assert plotly_json["data"][0]["y"] == [3, 1, 2] and plotly_json["layout"]["title"]["text"] == "scores"
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and "main-svg" in svg and svg.count('class="point"') == 3
    assert bundle["text/html"].startswith("<div class='kaizen-chart'") and svg in bundle["text/html"]
    assert "<script" not in bundle["text/html"]  # nothing to run: GitHub, nbviewer, nbconvert show it
    assert bundle["text/plain"] == "Figure 'scores': bar 'score' (3 points)"
    json.dumps(bundle)  # a notebook can store it


@needs_chromium
def test_png_on_request_and_off_keeps_a_one_line_note() -> None:
    configure("png")
    bundle = figure_bundle(_bar())
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert "image/svg+xml" not in bundle and "data:image/png;base64," in bundle["text/html"]
    configure("off")
    bundle = figure_bundle(_bar())
    assert not {"image/png", "image/svg+xml"} & set(bundle)
    assert "static images are off" in bundle["text/html"]
    assert "bar &#x27;score&#x27; (3 points)" in bundle["text/html"]  # the summary, escaped


def test_a_bad_format_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="expected one of svg, png, off, got 'jpeg'"):
        configure("jpeg")
    monkeypatch.setenv("KAIZEN_STATIC_IMAGES", "PNG")
    assert configure() == "png"
    monkeypatch.setenv("KAIZEN_STATIC_IMAGES", "gif")
    with pytest.raises(ConfigError, match="KAIZEN_STATIC_IMAGES"):
        configure()


def test_without_chromium_the_bundle_says_why_in_one_line() -> None:
    # a fresh process that cannot find a browser: no hang, no stderr noise, the Plotly JSON and the note
    code = ("import json, plotly.graph_objects as go\n"
            "from kaizen_lab.notebook.static import figure_bundle\n"
            "b = figure_bundle(go.Figure(go.Bar(x=[1], y=[2])))\n"
            "b2 = figure_bundle(go.Figure(go.Bar(x=[1], y=[2])))\n"
            "print(json.dumps({k: (v if isinstance(v, str) else 'json') for k, v in b2.items()}))\n")
    env = {**os.environ, "BROWSER_PATH": "/nonexistent/chromium"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    bundle = json.loads(result.stdout)
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html", "text/plain"}
    assert "no static image: no Chromium found at BROWSER_PATH='/nonexistent/chromium'" in \
        bundle["text/html"].replace("&#x27;", "'")
    assert bundle["text/html"].count("no static image") == 1


@needs_chromium
def test_load_ext_makes_displayed_figures_carry_the_fallbacks(ip: Any) -> None:
    with capture_output() as cap:
        display(_bar())
    data = cap.outputs[0].data
    assert {"application/vnd.plotly.v1+json", "image/svg+xml", "text/html", "text/plain"} <= set(data)
    ip.run_line_magic("unload_ext", "kaizen_lab")
    try:
        with capture_output() as cap:
            display(_bar())
        assert "image/svg+xml" not in cap.outputs[0].data  # unloaded: plotly's own output again
    finally:
        ip.run_line_magic("load_ext", "kaizen_lab")


@needs_chromium
def test_widget_summaries_describe_what_the_widget_shows() -> None:
    chart = go.FigureWidget(_bar())
    box = w.VBox([w.HTML("<b>title</b>"), w.Text(value="hello", description="question"),
                  w.HBox([w.Button(description="Run"), w.IntProgress(value=2, max=5, description="done")]), chart])
    bundle = widget_bundle(box)
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live view stays first choice
    assert bundle["text/plain"].splitlines() == ["VBox:", "  title", "  question: hello", "  [Run]", "  done: 2/5",
                                                 "  Figure 'scores': bar 'score' (3 points)"]
    assert "<b>title</b>" in bundle["text/html"] and "<svg" in bundle["text/html"]
    assert "<button disabled>Run</button>" in bundle["text/html"]


def test_playground_summary_lists_its_fields_and_result() -> None:
    qa = Kaizen().create_agent("qa", "question: str -> answer: str", model="test")
    playground = qa.playground()
    playground.set_values(question="What <is> Kaizen?")
    playground.run()
    bundle = widget_bundle(playground)
    text = bundle["text/plain"]
    assert text.startswith("Playground:") and "question: What <is> Kaizen?" in text and "[Run]" in text
    assert "What &lt;is&gt; Kaizen?" in bundle["text/html"]  # values are escaped
    assert "kaizen-result" in bundle["text/html"]  # the result card

