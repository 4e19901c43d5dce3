"""The notebook layer in a real kernel (nbclient): Run All stops at a rejected signature, errors are short,
progress bars are widgets, and nothing reaches stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_code_cell, new_notebook

WIDGET = "application/vnd.jupyter.widget-view+json"


def _execute(tmp_path: Path, cells: list[str], *, allow_errors: bool) -> Any:
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(tmp_path)}})
    return nb, client


def _stderr(nb: Any) -> list[str]:
    return [o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]


def test_run_all_stops_at_a_rejected_signature(tmp_path: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    nb, client = _execute(tmp_path, [
        "%load_ext kaizen_lab",
        "%%signature QA\nquestion: str -> answer: Nope",
        "%agent qa QA --model test",
        '%agent run qa question="x"',
    ], allow_errors=False)
    with pytest.raises(CellExecutionError) as caught:
        client.execute()
    assert caught.value.ename == "SignatureError"
    rejected = nb.cells[1]
    kinds = [o["output_type"] for o in rejected.outputs]
    assert kinds == ["display_data", "error"]  # the card, then the kernel's error report
    assert "kaizen-error" in rejected.outputs[0]["data"]["text/html"]
    assert len(rejected.outputs[1]["traceback"]) == 1  # one line pointing at the card
    assert all(not c.outputs and c.execution_count is None for c in nb.cells[2:])  # no cascade


def test_short_errors_progress_widgets_and_no_stderr(tmp_path: Path) -> None:
    nb, client = _execute(tmp_path, [
        "%load_ext kaizen_lab\nfrom kaizen_lab import Agent\nqa = Agent('qa', 'question -> answer', model='test')",
        "qa.execute(questoin='x')",
        "%kaizen traceback",
        "import kaizen_lab._progress\nkaizen_lab._progress.DELAY = 0\nqa.batch([{'question': 'x'}] * 3)[0].answer",
        "import os\nos.environ['KAIZEN_PROGRESS'] = 'false'\nqa.batch([{'question': 'x'}] * 3)[0].answer",
    ], allow_errors=True)
    client.execute()
    error = nb.cells[1].outputs[0]
    assert error["output_type"] == "error" and error["ename"] == "UserError"
    assert error["traceback"][0].startswith("UserError: unknown input 'questoin' (did you mean 'question'?)")
    assert len(error["traceback"]) == 2 and "%kaizen traceback" in error["traceback"][-1]
    full = nb.cells[2].outputs[0]["data"]["text/plain"]
    assert full.startswith("Traceback (most recent call last):") and "validate_inputs" in full
    shown = [o for o in nb.cells[3].outputs if WIDGET in o.get("data", {})]
    assert shown and "qa batch" in shown[0]["data"]["text/plain"]  # tqdm's notebook bar
    assert not [o for o in nb.cells[4].outputs if WIDGET in o.get("data", {})]  # turned off
    assert nb.cells[4].outputs[-1]["data"]["text/plain"] == "'test answer'"
    assert _stderr(nb) == []
