"""The example notebooks are small, executed, offline and safe to publish; nbval (``make notebooks``) runs them.

These checks read the ``.ipynb`` files only (no kernel). The notebooks are committed with the outputs of one
top-to-bottom run (``make notebook-outputs``), so GitHub and nbviewer show what a reader sees;
``tests/test_notebook_outputs.py`` checks those outputs are current. With ``--nbval-lax`` nbval compares just the
cells marked ``# NBVAL_CHECK_OUTPUT``: their outputs are the expected results and hold no charts or widgets.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
MAX_CELLS = 25
MAX_BYTES = 600_000  # executed, with the static images of their charts

# Credentials that must never be committed, in sources or in stored outputs.
SECRET_PATTERNS = {
    "OpenAI-style key": re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "literal bearer token": re.compile(r"Bearer [A-Za-z0-9._~+/-]{20,}"),
}
# Mime types whose stored copies would be large or stateful (widget state, Plotly JSON, images).
HEAVY_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json",
              "application/vnd.plotly.v1+json", "image/png", "image/jpeg", "image/svg+xml")
# Code may reach only this machine: notebooks run offline under `make test`.
URL = re.compile(r"\bhttps?://([^/\s'\"]+)")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(str(out["text"]))
        for value in out.get("data", {}).values():
            parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


def test_the_ten_notebooks_exist_in_order() -> None:
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(1, 11)], [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_small_and_uses_python3(path: Path) -> None:
    nb = _load(path)
    nbformat.validate(nb)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes; make its outputs smaller"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.metadata["kernelspec"].get("language") == "python"
    assert "widgets" not in nb.metadata, "saved widget state makes notebooks large and stale"
    assert len(nb.cells) <= MAX_CELLS, f"{path.name} has {len(nb.cells)} cells (at most {MAX_CELLS})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_tells_a_story(path: Path) -> None:
    nb = _load(path)
    first = nb.cells[0]
    number = path.name[:2]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {number} "), first.source[:40]
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(markdown) * 3 >= len(nb.cells), f"{path.name}: too little prose between the code"
    for a, b, c in zip(nb.cells, nb.cells[1:], nb.cells[2:], strict=False):
        assert not (a.cell_type == b.cell_type == c.cell_type == "code"), \
            f"{path.name}: three code cells in a row without prose:\n{a.source[:60]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_the_outputs_of_one_clean_run(path: Path) -> None:
    nb = _load(path)
    counts = [cell.execution_count for cell in _code(nb)]
    assert counts == list(range(1, len(counts) + 1)), \
        f"{path.name}: execution counts {counts}; run `make notebook-outputs NB=notebooks/{path.name}`"
    checked = 0
    for cell in _code(nb):
        for out in cell.outputs:
            assert out["output_type"] != "error", f"{path.name}: a stored error output:\n{cell.source[:80]}"
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), \
                f"{path.name}: stderr (logs, warnings) in a committed output:\n{cell.source[:80]}"
        is_checked = "NBVAL_CHECK_OUTPUT" in cell.source
        checked += is_checked
        if not is_checked:
            continue
        assert "NBVAL_IGNORE_OUTPUT" not in cell.source
        assert cell.outputs, f"{path.name}: checked cell has no expected output:\n{cell.source[:80]}"
        for out in cell.outputs:
            # nbval skips widget views (a progress bar may show); charts and images would be compared
            heavy = [m for m in out.get("data", {}) if m in HEAVY_MIME and "widget-view" not in m]
            assert not heavy, f"{path.name}: a checked cell compares {heavy}; check a text result instead"
    assert checked >= 3, f"{path.name} checks only {checked} cell outputs; mark deterministic results"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_local_model_cells_do_not_compare_text(path: Path) -> None:
    # the embedded model's text depends on the CPU's floating point: assert on structure instead
    for cell in _code(_load(path)):
        if re.search(r"""model\s*=\s*["']local["']""", cell.source) or re.search(r"Agent\(\s*\"[^\"]+\",\s*\"[^\"]+\"\)",
                                                                                 cell.source):
            assert "NBVAL_IGNORE_OUTPUT" in cell.source and "assert " in cell.source, cell.source[:120]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_secrets_and_no_network(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for name, pattern in SECRET_PATTERNS.items():
        match = pattern.search(text)
        assert match is None, f"{path.name} contains a {name}: {match.group(0)[:12]}…"
    assert not re.search(r"(/root|/home/[^/\s\"']+)/", text), f"{path.name} stores a home directory path"
    for cell in _code(_load(path)):
        hosts = {m.group(1).split(":")[0] for m in URL.finditer(cell.source)}
        assert hosts <= LOCAL_HOSTS, f"{path.name} reaches {hosts - LOCAL_HOSTS}; notebooks run offline"
        assert not re.search(r"^\s*[!%]\s*pip\b", cell.source, re.M), "install packages with make, not in cells"


def test_readme_links_every_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in section, f"README's Notebooks section does not link {path.name}"


def test_sanitize_file_normalizes_volatile_values() -> None:
    config = configparser.ConfigParser()
    assert config.read(SANITIZE), f"{SANITIZE} is missing"
    rules = [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]

    def sanitize(text: str) -> str:
        for regex, replace in rules:  # nbval applies the sections in file order
            text = regex.sub(replace, text)
        return text

    pairs = [
        ("ExecutionResult run-0452a1e9-000002 at 0x7f3a2b", "ExecutionResult run-04539085-000001 at 0x9c"),
        ("wf-0a1b2c3d-000001", "wf-ffeeddcc-000042"),
        ("qa · test:test · 0.3 ms · 78+11 tokens", "qa · test:test · 12.75 ms · 78+11 tokens"),
        ("{'duration_ms': 1.5177, 'started_at': 1795472505.885196}",
         "{'duration_ms': 0.25, 'started_at': 1795472777.1}"),
        ("data-run-id='run-0452a1e9-000002'", "data-run-id='run-99999999-000123'"),
        ("http://127.0.0.1:33179/mcp", "http://127.0.0.1:45247/mcp"),
        ("/tmp/kaizen-export-abc123/summarizer", "/tmp/kaizen-export-zz9/summarizer"),
        ("'key_id': '3c509b89a07c'", "'key_id': '0badc0ffee12'"),
        ("2026-11-23T22:27:22.123+00:00", "2025-01-01 00:00:00"),
    ]
    for first, second in pairs:
        assert sanitize(first) == sanitize(second), (first, sanitize(first), sanitize(second))
    # what the notebooks check must survive: token counts, answers, scores
    assert sanitize("78+11 tokens; accuracy 0.250 -> 1.000") == "78+11 tokens; accuracy 0.250 -> 1.000"
