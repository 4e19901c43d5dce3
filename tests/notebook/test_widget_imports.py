"""Widget modules load on their own: the playground does not pull in Kailash (only the debugger's Stepper does)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout))


def test_the_playground_loads_without_kailash() -> None:
    assert "kailash" not in _loaded_after("from kaizen_lab.notebook.widgets.playground import Playground")
    assert "kailash" not in _loaded_after("import kaizen_lab.notebook.widgets")


def test_the_package_names_still_resolve() -> None:
    from kaizen_lab.notebook import widgets
    from kaizen_lab.notebook.widgets.debugger import Debugger
    from kaizen_lab.notebook.widgets.playground import Playground

    assert (widgets.Debugger, widgets.Playground) == (Debugger, Playground)
    assert {"Debugger", "Playground"} <= set(dir(widgets))
