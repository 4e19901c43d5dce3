"""Notebook cells as the export sees them: their kind, their number as Jupyter shows it, their exact text.

Numbering: ``cell N`` is the N-th cell of the notebook counting *every* cell (markdown and raw too), the
position a reader finds by counting from the top; when the saved notebook has an execution count the label
adds it (``cell 5 (In [3])``). Cells taken from a kernel's input history (``%kaizen export``) are labelled by
their execution count alone (``In [7]``), which is what the notebook shows beside them. Plain strings given to
``export_cells`` are code cells numbered 1, 2, ... in the order given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kaizen_lab.errors import UserError

__all__ = ["LeftOutCell", "NotebookCell", "as_cells", "code_lines", "leading_comments", "read_notebook_cells",
           "segment"]

_LINE = re.compile(r".*?(?:\r\n|\r|\n)|.+\Z", re.S)  # Python's own line breaks only (not U+2028, \f, \x85)


@dataclass(frozen=True)
class NotebookCell:
    """One cell: its text, ``kind`` (``code``/``markdown``/``raw``), 1-based ``number`` and display ``label``."""

    source: str
    kind: str = "code"
    number: int = 0
    label: str = ""

    def __str__(self) -> str:
        return self.label or f"cell {self.number}"


@dataclass(frozen=True)
class LeftOutCell:
    """A cell of which nothing reaches the export, and why."""

    number: int
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def as_cells(cells: Sequence[str | NotebookCell]) -> list[NotebookCell]:
    """Plain strings become code cells numbered by position; ``NotebookCell``s are kept."""
    out = []
    for index, cell in enumerate(cells, start=1):
        if isinstance(cell, NotebookCell):
            out.append(cell if cell.label else NotebookCell(cell.source, cell.kind, cell.number or index,
                                                           f"cell {cell.number or index}"))
        elif isinstance(cell, str):
            out.append(NotebookCell(cell, "code", index, f"cell {index}"))
        else:
            raise UserError(f"cell {index} is a {type(cell).__name__}; pass cell sources as strings")
    return out


def read_notebook_cells(path: str | os.PathLike[str]) -> list[NotebookCell]:
    """Every cell of the notebook at ``path``, numbered as described in the module docstring."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise UserError(f"no notebook at {str(path)!r}") from None
    except Exception as exc:  # noqa: BLE001 - nbformat raises several unrelated types for a bad file
        reason = " ".join(str(exc).split())[:200]
        raise UserError(f"{str(path)!r} is not a readable notebook: {reason}") from None
    cells = []
    for index, cell in enumerate(nb.cells, start=1):
        kind = str(cell.get("cell_type", "code"))
        source = cell.get("source", "")
        if not isinstance(source, str):
            raise UserError(f"{str(path)!r} cell {index}: its source is not text; re-save the notebook in Jupyter")
        count = cell.get("execution_count") if kind == "code" else None
        label = f"cell {index} (In [{count}])" if isinstance(count, int) else f"cell {index}"
        cells.append(NotebookCell(source, kind, index, label))
    return cells


def code_lines(text: str) -> list[str]:
    """``text`` split at the line breaks Python's parser counts, each line keeping its break."""
    return _LINE.findall(text)


def segment(lines: Sequence[str], start: int, end: int, end_col: int) -> str:
    """The exact text from the start of line ``start`` to byte column ``end_col`` of line ``end`` (1-based).

    A comment after the statement on its last line stays with it; a following ``; statement`` does not.
    """
    last = lines[end - 1].encode()
    tail = last[end_col:].decode().rstrip("\r\n")
    if not tail.strip() or tail.lstrip().startswith("#"):
        end_col = len(last.rstrip(b"\r\n"))
    if start == end:
        return last[:end_col].decode()
    return "".join(lines[start - 1:end - 1]) + last[:end_col].decode()


def leading_comments(lines: Sequence[str], start: int) -> int:
    """The first line of the comment block directly above line ``start`` (``start`` when there is none)."""
    while start > 1 and lines[start - 2].lstrip().startswith("#"):
        start -= 1
    return start
