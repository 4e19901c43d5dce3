"""The example notebooks are committed with their outputs, those outputs are current, and a static export shows them.

- every chart output carries a static image and offline HTML, and ``nbconvert --to html`` of each committed
  (executed) notebook shows every chart as an inline SVG, with no script needed;
- (slow) each notebook re-executed now gives the committed outputs, compared by ``tests.notebook_outputs.comparable``
  (the nbval sanitize rules for text; charts by their summary and mime types). When this fails after an
  intended change, run ``make notebook-outputs`` and commit the notebooks.
"""

from __future__ import annotations

import difflib
import pprint
import re
from pathlib import Path

import nbformat
import pytest

from tests.notebook_outputs import comparable, execute, isolated_env, notebooks

PLOTLY = "application/vnd.plotly.v1+json"
NOTEBOOKS = notebooks()


def _charts(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
            if PLOTLY in out.get("data", {})]


def test_the_committed_notebooks_show_their_charts() -> None:
    with_charts = [p.name for p in NOTEBOOKS if _charts(nbformat.read(str(p), as_version=4))]
    # the panels, debugging, patterns and optimization notebooks draw charts; the quickstart its workflow
    assert {"01-quickstart.ipynb", "03-debugging.ipynb", "05-patterns.ipynb", "07-panels.ipynb"} <= set(with_charts), \
        f"notebooks with chart outputs: {with_charts}; run `make notebook-outputs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_html_export_shows_every_chart(path: Path) -> None:
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    charts = _charts(nb)
    for out in charts:
        data = out["data"]
        assert data.get("image/svg+xml", "").startswith("<svg"), f"{path.name}: a chart without a static image"
        assert "<svg" in data["text/html"] and "<script" not in data["text/html"]
    # charts: figure outputs, plus the charts inside widgets (a debugger's graph), as their static HTML has them
    stored = sum(str(out.get("data", {}).get("text/html", "")).count("<div class='kaizen-chart' ")
                 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert stored >= len(charts)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    shown = re.findall(r"<div class=\"kaizen-chart\"[^>]*>\s*<svg\b[^>]*class=\"main-svg\"", body)
    assert len(shown) == stored, f"{path.name}: {stored} charts, {len(shown)} shown in the HTML export"
    assert "no static image" not in body


def _diff(expected: object, actual: object) -> str:
    a, b = pprint.pformat(expected, width=140).splitlines(), pprint.pformat(actual, width=140).splitlines()
    return "\n".join(list(difflib.unified_diff(a, b, "committed", "re-executed", lineterm=""))[:80])


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_are_what_the_code_produces_now(path: Path, tmp_path: Path) -> None:
    committed = nbformat.read(str(path), as_version=4)
    fresh = execute(path, env=isolated_env(str(tmp_path)))
    expected, actual = comparable(committed), comparable(fresh)
    assert expected == actual, (f"{path.name}: the committed outputs are stale; run `make notebook-outputs "
                                f"NB=notebooks/{path.name}` and commit it\n{_diff(expected, actual)}")
