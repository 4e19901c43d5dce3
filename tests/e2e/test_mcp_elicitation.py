"""An MCP server's question answered in the browser: a cell awaits server-everything's elicitation tool, the form
appears in that running cell, the user fills it and clicks Accept, and the cell finishes with the answer. A
blocking call (which a kernel can't interrupt to deliver widget clicks) is declined at once with a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_page, open_notebook
from tests.mcp.conftest import node_bin  # noqa: F401 - the npm reference server's fixture

pytestmark = pytest.mark.e2e

CELL = """import json
from kaizen_lab.mcp import connect
paths = json.load(open("mcp_paths.json"))
conn = connect([paths["everything"], "stdio"], name="everything", connect_timeout=60, shared=False)
answer = await conn.acall_tool("trigger-elicitation-request", {})
print("ANSWER", answer.text)"""
SYNC_CELL = """import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    blocked = conn.call_tool("trigger-elicitation-request", {})
print("SYNC", blocked.text.splitlines()[0], [str(w.message) for w in caught])
conn.close()"""


def test_elicitation_form_answered_in_the_browser(jupyter_lab: Any, chromium_browser: Any, shots: Path,
                                                  node_bin: Path) -> None:  # noqa: F811
    root = jupyter_lab.root_dir
    (root / "mcp_paths.json").write_text(json.dumps({"everything": str(node_bin / "mcp-server-everything")}))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL),
                                                 nbformat.v4.new_code_cell(SYNC_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "mcp_elicitation.ipynb")
    errors: list[str] = []
    page = new_page(chromium_browser, errors)
    try:
        open_notebook(page, jupyter_lab, "mcp_elicitation.ipynb")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        form = page.locator(".jp-OutputArea .widget-vbox", has_text="asks: Please provide inputs")
        expect(form).to_be_visible(timeout=90_000)
        form.locator(".widget-text input").first.fill("Browser User")
        form.locator("button", has_text="Accept").click()
        output = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]')
        stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        try:
            expect(output.first).to_contain_text("Browser User", timeout=60_000)
        except AssertionError:
            raise AssertionError("no answer; stderr: " + " | ".join(stderr.all_inner_texts())) from None
        expect(output.first).to_contain_text("It was a dark and stormy night.")
        # a blocking call can't be answered from a kernel: declined at once, with a warning naming the fix
        expect(output.nth(1)).to_contain_text("SYNC", timeout=60_000)
        expect(output.nth(1)).to_contain_text("declined")
        expect(output.nth(1)).to_contain_text("await conn.acall_tool")
    except Exception:
        page.screenshot(path=str(shots / "mcp_elicitation_failed.png"))
        raise
    finally:
        page.context.close()
    assert not errors, f"uncaught page errors: {errors}"
