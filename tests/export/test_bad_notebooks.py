"""A bad notebook ends its export quickly with one line naming the cell: no traceback, no hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kaizen_lab.errors import UserError
from kaizen_lab.export import export_cells

BIN = Path(sys.executable).parent
LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                 for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True))

BAD = [
    ('%agent qa "question -> answer --model test', r"cell 2: the %agent line: no closing quotation; close every"),
    ("%%agent qa\n- signature\n- model", r"cell 2: the %%agent body must be a YAML mapping .* not a list"),
    ("%%agent qa\nsignature: {question: answer}", r"cell 2: %%agent signature: must be text, got a mapping"),
    ("%%agent qa\nsignature: q -> a\ninstructions: [be, brief]", r"cell 2: %%agent instructions: must be text"),
    ("%%agent qa\nsignature: q -> a\ntools: {a: 1}", r"cell 2: %%agent tools: must be a list of names"),
    ("%%agent qa\nsignature: q -> a\ntimeout: .inf", r"cell 2: agent 'qa': timeout must be a finite number"),
    ("%%agent qa\nsignature: q -> a\nmax_retries: .nan", r"cell 2: agent 'qa': max_retries must be a whole"),
    ("%%agent qa\n" + LAUGHS + "signature: q -> a\ntools: *i", r"cell 2: the %%agent body expands to more than"),
    ("%%agent qa\nsignature: " + "[" * 50_000, r"cell 2: the %%agent body nests deeper than 100 levels"),
    ("%%agent qa\nsignature: q -> a\nmax_retries: " + "9" * 5000, r"cell 2: .*a number has more than 4,300"),
    ('from kaizen_lab.agents import Agent\nqa = Agent("qa", "q -> a", timeout=1e400)', r"cell 2: .*finite number"),
    ('%%signature "QA\nq -> a', r"cell 2: the %%signature line: no closing quotation"),
]


@pytest.mark.timeout(60)  # a hang guard only; each case takes milliseconds
@pytest.mark.parametrize(("source", "message"), BAD)
def test_bad_cells_give_one_line_errors_naming_the_cell(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        export_cells(["import os", source], tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_export_of_a_bad_notebook_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_markdown_cell("# Bad"), new_code_cell("%%agent qa\n" + LAUGHS)])
    nbformat.write(nb, str(tmp_path / "bad.ipynb"))
    proc = subprocess.run([str(BIN / "kaizen-lab"), "export", str(tmp_path / "bad.ipynb"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2  # a user error
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "cell 2: the %%agent body expands to more than 100,000 values" in proc.stderr


def test_unreadable_notebook_file_is_a_one_line_user_error(tmp_path: Path) -> None:
    from kaizen_lab.export import export_notebook

    (tmp_path / "nb.ipynb").write_text('{"cells": [')
    with pytest.raises(UserError, match="is not a readable notebook") as caught:
        export_notebook(tmp_path / "nb.ipynb", tmp_path / "out")
    assert "\n" not in str(caught.value)
