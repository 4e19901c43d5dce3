"""The JupyterLab extension in a real browser: %%signature highlighting, the squiggle on a bad type, the sidebar.

The extension is the one `make extension` installs into the venv (the wheel's shared data). The notebook is
written into the server's temp root by the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import Page, expect

from tests.e2e.a11y import describe, effective_background, luminance, run_axe
from tests.e2e.conftest import new_page, open_notebook, run_all_cells

pytestmark = pytest.mark.e2e

NAME = "extension_check.ipynb"
SIGNATURE_CELL = '%%signature QA\nquestion: str  # the question\n->\nanswer: str'


def _has_extension() -> bool:
    import sys

    return (Path(sys.prefix) / "share/jupyter/labextensions/jupyterlab-kaizen/package.json").exists()


@pytest.fixture(scope="module")
def ext_page(jupyter_lab: Any, chromium_browser: Any, shots: Path) -> Iterator[Page]:
    if not _has_extension():
        pytest.fail("the JupyterLab extension is not installed in this environment; run `make extension`")
    nb = new_notebook(cells=[new_code_cell("%load_ext kaizen_lab"), new_code_cell(SIGNATURE_CELL),
                             new_code_cell("%agent qa QA --model test")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(jupyter_lab.root_dir / NAME))
    errors: list[str] = []
    page = new_page(chromium_browser, errors)
    try:
        open_notebook(page, jupyter_lab, NAME)
        run_all_cells(page, NAME)
    except Exception:
        page.screenshot(path=str(shots / "extension_failed_run.png"))
        raise
    yield page
    page.context.close()


def signature_cell(page: Page) -> Any:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(1)


def test_signature_cell_is_highlighted(ext_page: Page) -> None:
    cell = signature_cell(ext_page)
    expect(cell.locator(".kz-sig-magic")).to_have_text("%%signature")
    expect(cell.locator(".kz-sig-field")).to_have_text(["question", "answer"])
    expect(cell.locator(".kz-sig-type")).to_have_text(["str", "str"])
    expect(cell.locator(".kz-sig-arrow")).to_have_text("->")
    expect(cell.locator(".kz-sig-description")).to_have_text("# the question")
    agent_line = ext_page.locator(".jp-NotebookPanel .jp-Cell").nth(2)
    expect(agent_line.locator(".kz-sig-magic")).to_have_text("%agent")
    expect(agent_line.locator(".kz-sig-flag")).to_have_text("--model")


def test_bad_type_gets_a_lint_squiggle_over_the_whole_token(ext_page: Page, shots: Path) -> None:
    source = "%%signature QA\nquestion: flaot\n->\nanswer: str"
    ext_page.evaluate(f"""() => {{
        const panel = window.jupyterapp.shell.currentWidget;
        panel.content.widgets[1].model.sharedModel.setSource({json.dumps(source)});
    }}""")
    cell = signature_cell(ext_page)
    error = cell.locator(".kz-sig-error")
    message = "unknown type 'flaot' (did you mean 'float'?)"
    try:
        expect(error).to_have_attribute("data-kz-error", message, timeout=30_000)
    except AssertionError:
        ext_page.screenshot(path=str(shots / "extension_no_squiggle.png"))
        raise
    expect(error).to_have_text("flaot")  # the whole offending token, not its first letter
    expect(cell.locator(".cm-lintRange-error")).to_have_text("flaot")  # CodeMirror's lint range
    expect(cell.locator(".cm-lint-marker-error")).to_have_count(1)  # and its gutter mark
    cell.locator(".cm-lintRange-error").hover()
    tooltip = ext_page.locator(".cm-tooltip-lint")
    expect(tooltip).to_contain_text(message, timeout=10_000)
    cell.screenshot(path=str(shots / "extension_lint.png"))
    ext_page.evaluate(f"""() => {{
        window.jupyterapp.shell.currentWidget.content.widgets[1].model.sharedModel.setSource(
            {json.dumps(SIGNATURE_CELL)});
    }}""")
    expect(error).to_have_count(0, timeout=30_000)
    expect(cell.locator(".cm-lint-marker-error")).to_have_count(0)
    expect(cell.locator(".cm-gutter-lint")).to_have_count(0)  # the gutter goes away with the last error


def test_sidebar_lists_the_agent_created_in_the_notebook(ext_page: Page) -> None:
    ext_page.locator(".jp-SideBar .lm-TabBar-tab", has_text="Kaizen").first.click()
    sidebar = ext_page.locator("#kaizen-sidebar")
    expect(sidebar).to_be_visible()
    ext_page.evaluate("() => window.kaizenLab.refresh()")
    agent = sidebar.locator('.kz-sidebar-agent[data-agent="qa"]')
    expect(agent).to_contain_text("qa", timeout=30_000)
    expect(agent).to_contain_text("test")
    expect(sidebar.locator(".kz-sidebar-signature")).to_contain_text("QA")


def test_sidebar_run_opens_its_trace_beside_the_notebook_without_editing_it(ext_page: Page, shots: Path) -> None:
    page = ext_page
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    before = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.toJSON().cells"
                           ".map(c => c.source)")
    # a run made from the kernel (not a new cell): the sidebar hears of it on its next refresh
    page.evaluate("""() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute(
        {code: 'qa.execute(question="from the sidebar test")', silent: false, store_history: false})""")
    sidebar = page.locator("#kaizen-sidebar")
    if not sidebar.is_visible():  # the tab toggles: open it only if an earlier test did not
        page.locator(".jp-SideBar .lm-TabBar-tab", has_text="Kaizen").first.click()
    run = sidebar.locator("button.kz-sidebar-run").first
    for _ in range(60):
        page.evaluate("() => window.kaizenLab.refresh()")
        if run.count():
            break
        page.wait_for_timeout(500)
    expect(run).to_be_visible(timeout=30_000)
    expect(run.locator(".kz-run-time")).to_have_text(re.compile(r"\d{1,2}:\d{2}:\d{2}"))
    expect(run.locator(".kz-run-input")).to_have_text("from the sidebar test")
    n_cells = cells.count()
    run.click()
    panel = page.locator(".kz-trace-panel")
    expect(panel).to_be_visible(timeout=30_000)
    expect(panel.locator(".kaizen-trace .kz-span[data-kind='model']")).to_have_count(1)
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Trace")).to_have_count(1)
    assert page.locator(".jp-NotebookPanel").first.is_visible()  # beside the notebook, not instead of it
    after = page.evaluate("() => window.jupyterapp.shell.currentWidget === null ? null : "
                          "[...window.jupyterapp.shell.widgets('main')].find(w => w.content && w.content.model)"
                          ".content.model.sharedModel.toJSON().cells.map(c => c.source)")
    assert cells.count() == n_cells and after == before
    page.screenshot(path=str(shots / "sidebar_trace.png"))
    violations = run_axe(page, ["#kaizen-sidebar", ".kz-trace-panel"])
    assert not violations, describe(violations)


def test_sidebar_and_trace_panel_follow_the_dark_theme(ext_page: Page, shots: Path) -> None:
    page = ext_page
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    try:
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
        page.wait_for_timeout(500)
        for selector in ("#kaizen-sidebar", ".kz-trace-panel", ".kz-trace-panel .kaizen-trace"):
            colours = effective_background(page, selector)
            assert colours and all(luminance(c) < 0.2 for c in colours), (selector, colours)
        page.screenshot(path=str(shots / "sidebar_dark.png"))
        violations = run_axe(page, ["#kaizen-sidebar", ".kz-trace-panel"])
        assert not violations, describe(violations)
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
