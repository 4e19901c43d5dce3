"""Notebook 7 (the ``notebook`` package, installed with the notebook extra) runs the quickstart in a real browser.

The Jupyter server started for JupyterLab also serves Notebook 7's interface (``/notebooks/<path>``); the
quickstart is copied into its temp root, run with the UI's own Run menu, and must finish with no error output,
with the playground form and the agent's workflow panel (Plotly, drawn as SVG) on the page.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PROMPTS_DONE_JS, new_page

pytestmark = pytest.mark.e2e

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"
NAME = "nb7-quickstart.ipynb"


def _kernel_ready(lab: Any) -> bool:
    """The page's kernel is started, connected and idle (the REST API's view of this notebook's session)."""
    with urllib.request.urlopen(lab.url("/api/sessions"), timeout=5) as response:
        sessions = json.loads(response.read())
    kernels = [s["kernel"] for s in sessions if s.get("path", "").endswith(NAME)]
    return bool(kernels) and kernels[0].get("execution_state") == "idle" and kernels[0].get("connections", 0) > 0


def test_quickstart_runs_in_notebook_7(jupyter_lab: Any, chromium_browser: Any, shots: Path) -> None:
    shutil.copy(QUICKSTART, jupyter_lab.root_dir / NAME)  # never open the committed copy in place
    errors: list[str] = []
    page = new_page(chromium_browser, errors)
    try:
        page.goto(jupyter_lab.url(f"/notebooks/{NAME}"))
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
        assert "/notebooks/" in page.url and page.locator("#jp-NotebookPanel, .jp-NotebookPanel").count() >= 1
        expect(page.locator("#main-panel, .jp-LabShell")).to_have_count(1)
        assert page.locator(".jp-LabShell").count() == 0, "this is JupyterLab, not Notebook 7"
        deadline = time.monotonic() + 90
        while not _kernel_ready(jupyter_lab):
            assert time.monotonic() < deadline, "the notebook's kernel did not become idle"
            time.sleep(0.2)

        # Notebook 7's own menus: Edit > Clear Outputs of All Cells, Run > Run All Cells
        page.locator(".lm-MenuBar-item", has_text="Edit").click()
        page.locator(".lm-Menu-item[data-command='editmenu:clear-all']").click()
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        done = page.wait_for_function(PROMPTS_DONE_JS, timeout=180_000).json_value()
        stderr = page.locator('.jp-NotebookPanel [data-mime-type="application/vnd.jupyter.stderr"]')
        assert done is True and stderr.count() == 0, "error output:\n" + "\n".join(stderr.all_inner_texts())

        playground = page.locator(".jp-NotebookPanel .kaizen-playground")
        expect(playground).to_have_count(1)
        expect(playground.locator("button.kaizen-run")).to_be_visible()
        expect(playground.locator(".kaizen-playground-result .kaizen-result")).to_be_visible()  # played.run()
        panel = page.locator(".jp-NotebookPanel .js-plotly-plot svg.main-svg").first
        panel.scroll_into_view_if_needed()
        expect(panel).to_be_visible()
        assert page.locator(".jp-NotebookPanel .js-plotly-plot .scatterlayer .point").count() >= 2, \
            "the workflow panel draws no nodes"
        assert not errors, errors
        page.screenshot(path=str(shots / "notebook7_quickstart.png"))
    except Exception:
        page.screenshot(path=str(shots / "notebook7_failed.png"))
        raise
    finally:
        page.context.close()
