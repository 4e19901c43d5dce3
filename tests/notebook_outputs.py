"""Execute the example notebooks and write their outputs, or compare fresh outputs with the committed ones.

``make notebook-outputs`` (``python -m tests.notebook_outputs --write [NOTEBOOK...]``) re-executes every notebook
in ``notebooks/`` in a kernel of this environment, in temporary HOME/Jupyter/Kaizen directories, and saves the
outputs in place: charts with their static images, widgets with their summaries, no widget state and no timing
metadata. ``tests/test_notebook_outputs.py`` executes them again and checks, with ``comparable``, that what is
committed is what the current code produces: text under the nbval sanitize rules (``tests/nbval_sanitize.cfg``),
charts by their summary line and by which mime types they carry, widgets by their summary. Cells marked
``NBVAL_IGNORE_OUTPUT`` (e.g. the embedded model's CPU-dependent text) are compared by mime types only.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
TIMEOUT = 600
# Plotly's random per-figure ids inside SVG and widget model ids: not part of what a reader sees.
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_IMG = re.compile(r"<img\b[^>]*src='data:image/[^']*'[^>]*/?>", re.S)
# Bars drawn in HTML at positions proportional to measured durations (timeline cards).
_PERCENT = re.compile(r"\b(left|width|right|height|top|bottom):\s*-?\d+(\.\d+)?%")
_VOLATILE_MIME = ("image/svg+xml", "image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json")


def notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _rules() -> list[tuple[re.Pattern[str], str]]:
    config = configparser.ConfigParser()
    config.read(SANITIZE)
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


def sanitize(text: str, rules: list[tuple[re.Pattern[str], str]] | None = None) -> str:
    text = _PERCENT.sub(r"\1:PCT", _IMG.sub("<img/>", _SVG.sub("<svg/>", text)))
    for regex, replace in rules if rules is not None else _rules():
        text = regex.sub(replace, text)
    return text


def isolated_env(base: str) -> dict[str, str]:
    """Environment for the kernel: temporary HOME/XDG/Jupyter/IPython/Kaizen dirs, no KAIZEN_* or provider keys."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KAIZEN_") and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                                                        "ANTHROPIC_BASE_URL")}
    for name, sub in {"HOME": "home", "XDG_CONFIG_HOME": "home/.config", "XDG_DATA_HOME": "home/.local/share",
                      "XDG_CACHE_HOME": "home/.cache", "JUPYTER_CONFIG_DIR": "jupyter/config",
                      "JUPYTER_DATA_DIR": "jupyter/data", "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
                      "IPYTHONDIR": "ipython", "KAIZEN_HOME": "kaizen", "MPLCONFIGDIR": "mpl"}.items():
        path = os.path.join(base, sub)
        os.makedirs(path, exist_ok=True)
        env[name] = path
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def execute(path: Path, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in this environment's ``python3`` kernel (cwd ``notebooks/``); raises on error."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    base = tempfile.mkdtemp(prefix="kaizen-nb-")
    try:
        kernel_env = env or isolated_env(base)
        km = KernelManager(kernel_name="python3")
        client = NotebookClient(nb, km=km, timeout=TIMEOUT, kernel_name="python3", store_widget_state=False,
                                record_timing=False, resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=kernel_env, cwd=str(path.parent))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    nb.metadata.pop("widgets", None)
    return nb


def merged_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive ``stream`` outputs of one name as one (how they arrive in chunks depends on timing)."""
    merged: list[Any] = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")):
            last = merged[-1] = nbformat.from_dict({**last, "text": str(last["text"]) + str(out["text"])})
            continue
        merged.append(out)
    return merged


def _output_view(out: dict[str, Any], ignore_text: bool, rules: list[tuple[re.Pattern[str], str]]) -> Any:
    kind = out.get("output_type")
    if kind == "stream":
        return ("stream", out.get("name"), None if ignore_text else sanitize(str(out.get("text", "")), rules))
    if kind == "error":
        return ("error", out.get("ename"), sanitize(str(out.get("evalue", "")), rules))
    data = out.get("data", {})
    view: dict[str, Any] = {}
    for mime, value in sorted(data.items()):
        if ignore_text or mime in _VOLATILE_MIME:
            view[mime] = "present"
        elif mime == "application/vnd.plotly.v1+json":
            view[mime] = "present"  # its numbers are timings; the text/plain summary carries its structure
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            view[mime] = sanitize(text, rules)
    return (kind, view)


def comparable(nb: nbformat.NotebookNode) -> list[tuple[int, str, list[Any]]]:
    """Per code cell: (index, first source line, normalized outputs) — what must not change silently."""
    rules = _rules()
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        ignore = "NBVAL_IGNORE_OUTPUT" in cell.source
        outputs = merged_streams(cell.get("outputs", []))
        if ignore:  # e.g. the embedded model: a progress bar shows only when a step takes long on this machine
            outputs = [o for o in outputs if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
        cells.append((i, cell.source.splitlines()[0] if cell.source else "",
                      [_output_view(o, ignore, rules) for o in outputs]))
    return cells


def write(path: Path) -> nbformat.NotebookNode:
    nb = execute(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
            cell.outputs = merged_streams(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.notebook_outputs", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="execute and save the outputs in place")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all of notebooks/)")
    args = parser.parse_args(argv)
    if not args.write:
        parser.error("nothing to do: pass --write (the check is tests/test_notebook_outputs.py)")
    failed = []
    for path in args.paths or notebooks():
        print(f"executing {path.name} ...", flush=True)
        try:
            write(path)
        except Exception as exc:  # noqa: BLE001 - report it, keep the notebook as it was, go on with the others
            failed.append(path.name)
            print(f"FAILED {path.name} (left unchanged): {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr)
    if failed:
        print(f"not written: {', '.join(failed)}; rerun with NB=notebooks/<name>", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
