"""The debugger pane, %trace, the graphs and the panels in JupyterLab + Chromium, checked on the DOM.

One generated notebook is opened once and run; the tests then click, type and measure in order (the debugger
tests build on each other). The last tests switch JupyterLab to its dark theme. axe-core checks contrast and
keyboard rules in both themes. ``DOC_SHOTS_DIR=docs/images`` also writes the debugger and %trace screenshots
there (how the ones in the docs were made).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import Page, expect

from tests.e2e.a11y import boxes_overlap, describe, effective_background, inside, luminance, run_axe
from tests.e2e.conftest import new_page, open_notebook, run_all_cells

pytestmark = pytest.mark.e2e

NAME = "panels_ui.ipynb"
CELLS = [
    "%load_ext kaizen_lab",
    "from kaizen_lab import Agent, events as ev\n"
    "from kaizen_lab.models.testing import FunctionModel\n"
    "from kaizen_lab.notebook import show_graph\n"
    "from kaizen_lab.notebook.panels import latency_figure, tokens_figure\n"
    "from kaizen_lab.patterns import DEBATER_SIGNATURE, ConsensusPattern, DebatePattern\n"
    "qa = Agent('qa', 'question -> answer',\n"
    "           model=FunctionModel(lambda m, i: {'answer': f'kernel answer #{i.call_index + 1}'}))",
    "dbg = qa.debug(question='step me')\ndbg",
    "%agent run qa question=\"What is 2+2?\"",
    "%trace",
    "show_graph(ConsensusPattern([Agent(f'reviewer_{i}', 'question -> decision: str, confidence: float',\n"
    "                                  model='test') for i in (1, 2, 3)]))",
    "show_graph(DebatePattern([Agent('pro', DEBATER_SIGNATURE, model='test'),\n"
    "                          Agent('con', DEBATER_SIGNATURE, model='test')], rounds=2))",
    "latency_figure([])",
    "tokens_figure([ev.ModelCalled(run_id='r', model='m', input_tokens=5, output_tokens=2)])",
    "pg = qa.playground()\npg.set_values(question='typed in the browser')\npg",
    "from kaizen_lab.notebook.widgets.optimization import OptimizationProgress\n"
    "from kaizen_lab.optimize import PromptOptimizer\n"
    "def upper_with_demos(messages, info):\n"
    "    word = messages[-1].content.split(': ', 1)[1]\n"
    "    return {'answer': word.upper() if any(m.role == 'assistant' for m in messages[:-1]) else word}\n"
    "view = OptimizationProgress()\n"
    "display(view)\n"
    "done = PromptOptimizer(propose_instructions=0, progress=view.callback).optimize(\n"
    "    Agent('up', 'word -> answer', model=FunctionModel(upper_with_demos)),\n"
    "    [{'word': w, 'answer': w.upper()} for w in ['ab', 'cd', 'ef', 'gh', 'ij', 'kl', 'mn', 'op']])\n"
    "view.show_report(done.report)",
    "print('ALL-CELLS-DONE')",
]
DEBUGGER, TRACE, CONSENSUS, DEBATE, EMPTY, UNKNOWN_COST, PLAYGROUND, OPTIMIZE, LAST = 2, 4, 5, 6, 7, 8, 9, 10, 11
OUR_UI = [".kaizen-debugger", ".kaizen-trace", ".kaizen-result", ".kaizen-playground", ".jp-RenderedPlotly",
          ".kaizen-optimization-progress"]


def cell(page: Page, i: int) -> Any:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(i)


@pytest.fixture(scope="module")
def ui(jupyter_lab: Any, chromium_browser: Any, shots: Path) -> Iterator[Page]:
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(jupyter_lab.root_dir / NAME))
    errors: list[str] = []
    page = new_page(chromium_browser, errors)
    try:
        open_notebook(page, jupyter_lab, NAME)
        run_all_cells(page, NAME)
        expect(cell(page, LAST).locator(".jp-OutputArea-output")).to_have_text("ALL-CELLS-DONE")
    except Exception:
        page.screenshot(path=str(shots / "panels_ui_failed_run.png"))
        raise
    yield page
    page.screenshot(path=str(shots / "panels_ui_final.png"))
    page.context.close()
    assert not errors, f"uncaught page errors: {errors}"


@pytest.fixture
def page(ui: Page, shots: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield ui
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        ui.screenshot(path=str(shots / f"{request.node.name}.png"))


def doc_shot(locator: Any, shots: Path, name: str) -> None:
    locator.screenshot(path=str(shots / name))
    if os.environ.get("DOC_SHOTS_DIR"):
        target = Path(os.environ["DOC_SHOTS_DIR"]).resolve()
        target.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=str(target / name))


def debugger(page: Page) -> Any:
    dbg = cell(page, DEBUGGER).locator(".kaizen-debugger")
    expect(dbg).to_be_visible(timeout=30_000)
    return dbg


def current(dbg: Any) -> Any:
    return dbg.locator(".kaizen-debug-state [data-current]")


# ------------------------------------------------------------------------------------------- debugger
def test_debugger_rings_the_current_node_and_says_why(page: Page) -> None:
    dbg = debugger(page)
    expect(current(dbg)).to_have_attribute("data-current", "input")
    expect(current(dbg)).to_have_attribute("data-reason", "start")
    ring = dbg.locator(".kz-node.kz-current")
    expect(ring).to_have_count(1)
    expect(ring).to_have_attribute("data-node", "input")
    expect(ring.locator(".kz-ring")).to_have_count(1)
    expect(ring.locator(".kz-stop-label")).to_have_text("‖ start")
    expect(dbg.locator("button.kaizen-debug-step")).to_contain_text("F10")  # shortcuts on the buttons
    expect(dbg.locator("button.kaizen-debug-continue")).to_contain_text("F8")
    dbg.locator("button.kaizen-debug-step").click()
    expect(current(dbg)).to_have_attribute("data-current", "model", timeout=20_000)
    expect(current(dbg)).to_have_attribute("data-reason", "step")
    expect(dbg.locator(".kz-node.kz-current .kz-stop-label")).to_have_text("‖ step")
    expect(dbg.locator('.kz-node[data-node="input"]')).to_have_attribute("data-status", "done")
    expect(dbg.locator('.kz-node[data-node="input"] .kz-node-label')).to_have_text("✓ input")  # icon + name
    box = dbg.bounding_box()
    assert box is not None and box["height"] < 560, box  # fits the three-node graph, not ~1000 px


def test_a_breakpoint_set_by_clicking_a_node_stops_the_run_there(page: Page) -> None:
    dbg = debugger(page)
    node = dbg.locator('.kz-node[data-node="output"]')
    expect(node).to_have_attribute("aria-pressed", "false")
    node.click()
    expect(node).to_have_attribute("aria-pressed", "true", timeout=20_000)
    expect(node.locator(".kz-bp-mark")).to_have_count(1)
    dbg.locator("button.kaizen-debug-continue").click()
    expect(current(dbg)).to_have_attribute("data-current", "output", timeout=20_000)
    expect(current(dbg)).to_have_attribute("data-reason", "breakpoint")
    expect(dbg.locator(".kz-node.kz-current")).to_have_attribute("data-node", "output")
    expect(dbg.locator(".kz-node.kz-current .kz-stop-label")).to_have_text("‖ breakpoint")
    expect(dbg.locator('.kz-node[data-node="model"]')).to_have_attribute("data-status", "done")


def test_state_panel_keeps_expanded_sections_across_steps(page: Page) -> None:
    dbg = debugger(page)
    inputs = dbg.locator('details[data-section="inputs"]')
    expect(inputs).not_to_have_attribute("open", "")
    inputs.locator("summary").click()
    expect(inputs).to_have_attribute("open", "")
    dbg.locator("button.kaizen-debug-restart").click()
    expect(dbg.locator(".kaizen-debug-history .kz-history-item")).to_have_count(0, timeout=20_000)
    dbg.locator('.kz-node[data-node="input"]').focus()
    page.keyboard.press("F10")  # the step shortcut
    expect(dbg.locator(".kaizen-debug-history .kz-history-item")).to_have_count(1, timeout=20_000)
    expect(dbg.locator('details[data-section="inputs"]')).to_have_attribute("open", "")
    dbg.locator("button.kaizen-debug-step").click()
    expect(dbg.locator(".kaizen-debug-history .kz-history-item")).to_have_count(2, timeout=20_000)
    expect(dbg.locator('details[data-section="inputs"]')).to_have_attribute("open", "")
    expect(dbg.locator(".kaizen-debug-detail")).to_contain_text("kernel answer")  # the model step's output
    dbg.locator(".kz-history-item").first.click()  # look back at the first step
    expect(dbg.locator(".kaizen-debug-detail-head")).to_contain_text("#1 input", timeout=20_000)
    expect(dbg.locator('details[data-section="inputs"]')).to_have_attribute("open", "")


def test_breakpoints_toggle_from_the_keyboard(page: Page) -> None:
    dbg = debugger(page)
    node = dbg.locator('.kz-node[data-node="model"]')
    node.focus()
    page.keyboard.press("Enter")
    expect(node).to_have_attribute("aria-pressed", "true", timeout=20_000)
    expect(dbg.locator('.kz-node[data-node="model"]')).to_be_focused()  # focus survives the redraw
    page.keyboard.press("b")
    expect(node).to_have_attribute("aria-pressed", "false", timeout=20_000)


def test_an_invalid_edit_shows_its_error_next_to_the_editor(page: Page, shots: Path) -> None:
    dbg = debugger(page)
    edit = dbg.locator('details[data-section="edit"]')
    if edit.get_attribute("open") is None:
        edit.locator("summary").click()
    editor = dbg.locator("textarea.kaizen-debug-editor")
    editor.fill("{not json")
    dbg.locator("button.kaizen-debug-fork").click()
    error = dbg.locator(".kaizen-debug-edit-error")
    expect(error).to_contain_text("not valid JSON", timeout=20_000)
    e, t = error.bounding_box(), editor.bounding_box()
    assert e is not None and t is not None and 0 <= e["y"] - (t["y"] + t["height"]) < 60, (e, t)
    expect(editor).to_have_value("{not json")  # what was typed stays
    editor.fill('{"inputs": {"question": "forked"}}')
    dbg.locator("button.kaizen-debug-fork").click()
    expect(current(dbg)).to_have_attribute("data-reason", "fork", timeout=20_000)
    expect(current(dbg)).to_have_attribute("data-current", "model")
    doc_shot(dbg, shots, "debugger.png")


# ------------------------------------------------------------------------------------------- %trace
def test_trace_is_a_collapsible_span_tree(page: Page, shots: Path) -> None:
    card = cell(page, TRACE).locator(".kaizen-trace")
    expect(card).to_be_visible()
    steps = card.locator('.kz-span[data-kind="step"]')
    assert steps.count() >= 5
    model = card.locator('.kz-span[data-kind="model"]')
    expect(model).to_have_count(1)
    expect(model).to_have_attribute("data-depth", "2")  # run > step > model call
    expect(model).to_contain_text(re.compile(r"\d+\+\d+ tok"))
    expect(card.locator(".kz-span-bar")).to_have_count(steps.count() + 2)
    expect(card.locator('.kz-span[data-kind="run"] > summary')).to_contain_text("✓")
    doc_shot(card, shots, "trace.png")
    card.locator('.kz-span[data-kind="run"] > summary').click()  # collapse the run
    expect(steps.first).to_be_hidden()
    card.locator('.kz-span[data-kind="run"] > summary').click()
    expect(steps.first).to_be_visible()


# ------------------------------------------------------------------------------------------- graphs
def _plot(page: Page, i: int) -> Any:
    plot = cell(page, i).locator(".js-plotly-plot")
    expect(plot.locator("svg.main-svg").first).to_be_visible(timeout=30_000)
    return plot


def test_consensus_graph_labels_do_not_overlap_and_names_are_whole(page: Page) -> None:
    plot = _plot(page, CONSENSUS)
    labels = plot.locator(".annotation").filter(has_text=re.compile(r"\w"))
    expect(labels).to_have_count(3)
    boxes = [labels.nth(i).locator(".annotation-text-g").bounding_box() for i in range(3)]
    assert all(boxes) and not any(boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), boxes
    expect(plot.locator(".annotation-arrow-g")).to_have_count(3)  # one arrow (line + head) per edge
    texts = plot.locator(".scatterlayer .textpoint text")
    expect(texts).to_have_text(["○ aggregate", "○ reviewer_1", "○ reviewer_2", "○ reviewer_3"])
    shapes = plot.locator(".shapelayer path")  # the node boxes (no ring or breakpoint here)
    expect(shapes).to_have_count(4)
    for i in range(4):  # each label sits wholly inside its node box
        label, box = texts.nth(i).bounding_box(), shapes.nth(i).bounding_box()
        assert label and box and inside(label, box), (i, label, box)
    for box in boxes:
        assert not any(boxes_overlap(box, shapes.nth(i).bounding_box()) for i in range(4))
    expect(plot.locator(".legend")).to_contain_text("✓ done")


def test_debate_loop_edge_runs_around_the_nodes(page: Page) -> None:
    plot = _plot(page, DEBATE)
    texts = plot.locator(".scatterlayer .textpoint text")
    expect(texts).to_have_text(["○ debater_pro", "○ debater_con", "○ judge"])
    loop = plot.locator(".scatterlayer .trace").nth(1).locator("path.js-line")
    box = loop.bounding_box()
    assert box is not None
    right = max(texts.nth(i).bounding_box()["x"] + texts.nth(i).bounding_box()["width"] for i in range(3))
    assert box["x"] + box["width"] > right + 20  # the lane is right of every label
    assert "dash" in (loop.get_attribute("style") or "")
    labels = plot.locator(".annotation").filter(has_text=re.compile(r"\w"))
    boxes = [labels.nth(i).locator(".annotation-text-g").bounding_box() for i in range(labels.count())]
    assert len(boxes) == 3 and not any(boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    for box in boxes:  # no label covers a node name
        assert not any(boxes_overlap(box, texts.nth(i).bounding_box()) for i in range(3)), box


def test_empty_and_unknown_states_show_messages(page: Page) -> None:
    expect(_plot(page, EMPTY).locator(".annotation-text")).to_have_text("no runs yet — run an agent first")
    plot = _plot(page, UNKNOWN_COST)
    expect(plot.locator(".bartext")).to_contain_text(["cost n/a"])
    expect(plot.locator(".g-y2title")).to_have_count(0)  # no cost axis for an unknown cost


def test_enter_runs_the_playground(page: Page) -> None:
    box = cell(page, PLAYGROUND).locator(".kaizen-playground")
    expect(box).to_be_visible(timeout=30_000)
    field = box.locator(".widget-text input")
    expect(field).to_have_value("typed in the browser")
    field.focus()
    page.keyboard.press("Enter")
    expect(box.locator(".kaizen-playground-result")).to_contain_text("kernel answer", timeout=20_000)


def test_optimization_view_ends_its_bar_and_stars_the_winner(page: Page) -> None:
    view = cell(page, OPTIMIZE).locator(".kaizen-optimization-progress")
    expect(view).to_be_visible(timeout=30_000)
    expect(view.locator(".kaizen-optimization-status")).to_contain_text("done", timeout=30_000)
    bar = view.locator(".widget-hprogress .progress-bar")
    expect(bar).to_have_class(re.compile("progress-bar-success"))
    assert bar.evaluate("e => e.style.width") == "100%"
    chart = view.locator(".js-plotly-plot").first
    expect(chart.locator(".errorbar").first).to_be_attached(timeout=30_000)  # CI error bars
    expect(chart.locator(".textpoint text")).to_have_text(["★ winner"])
    expect(chart.locator(".legend")).to_contain_text("best so far")


# ------------------------------------------------------------------------------------------- a11y and dark
def test_axe_finds_no_contrast_or_keyboard_violation_in_the_light_theme(page: Page) -> None:
    violations = run_axe(page, OUR_UI)
    assert not violations, describe(violations)


def test_dark_theme_panels_are_dark_and_pass_axe(page: Page, shots: Path) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's stylesheet applies
    for selector in (".kaizen-debugger", ".kaizen-trace", ".kaizen-result", ".kaizen-playground",
                     ".jp-NotebookPanel .js-plotly-plot"):
        colours = effective_background(page, selector)
        assert colours, selector
        assert all(luminance(c) < 0.2 for c in colours), (selector, colours)
    title = cell(page, CONSENSUS).locator(".gtitle")
    assert luminance(title.evaluate("e => getComputedStyle(e).fill")) > 0.5  # light text on the dark panel
    page.screenshot(path=str(shots / "panels_dark.png"))
    violations = run_axe(page, OUR_UI)
    assert not violations, describe(violations)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
