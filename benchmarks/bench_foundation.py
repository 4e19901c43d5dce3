"""Foundation figures: what ``import kaizen_lab`` and ``Kaizen()`` cost.

``import_s`` is the median wall time of a fresh interpreter running ``import kaizen_lab`` minus the median of
a bare ``python -c pass`` (interleaved, so drift hits both alike). ``import_inproc_s`` is the import measured
inside the child, without interpreter start-up. ``import_facade_s`` is ``from kaizen_lab import Kaizen``
(configuration validation included). ``kaizen_init_ms`` is the median cost of one ``Kaizen()``.
``first_answer_cold_s`` is first real use in a fresh interpreter: ``from kaizen_lab import Agent`` and the first
``execute`` with the keyless test model (signature parse, model resolution, the run), timed inside the child.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import median_seconds, repeats

ROOT = Path(__file__).resolve().parent.parent

_CHILD = ("import time; t = time.perf_counter(); {stmt}; "
          "print(time.perf_counter() - t)")


def _child(code: str) -> tuple[float, float]:
    """(wall seconds of the whole interpreter, seconds printed by the child)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_")}
    env["PYTHONPATH"] = str(ROOT)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, float(out.stdout.strip() or 0.0)


def _import_figures(runs: int) -> dict[str, float]:
    bare, package, inproc, facade = [], [], [], []
    for _ in range(runs):
        bare.append(_child("pass")[0])
        wall, inside = _child(_CHILD.format(stmt="import kaizen_lab"))
        package.append(wall)
        inproc.append(inside)
        facade.append(_child(_CHILD.format(stmt="from kaizen_lab import Kaizen"))[1])
    return {
        "python_startup_s": round(statistics.median(bare), 4),
        "import_s": round(max(0.0, statistics.median(package) - statistics.median(bare)), 4),
        "import_inproc_s": round(statistics.median(inproc), 4),
        "import_facade_s": round(statistics.median(facade), 4),
    }


def _init_figures(runs: int) -> dict[str, float]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("KAIZEN_") and k != "KAIZEN_BENCH_QUICK"}
    try:
        from kaizen_lab import Kaizen

        Kaizen()  # warm caches (pydantic validators are built at class creation, not here)
        per_call = median_seconds(Kaizen, runs, inner=50)
    finally:
        os.environ.update(saved)
    return {"kaizen_init_ms": round(per_call * 1000, 4)}


_FIRST_ANSWER = ("from kaizen_lab import Agent; "
                 "Agent('qa', 'question -> answer', model='test').execute(question='What is Kaizen?')")


def _first_answer_figures(runs: int) -> dict[str, float]:
    """First real use in a fresh interpreter: the import plus the first answer (keyless test model), measured
    inside the child (no interpreter start-up), next to the bare import."""
    first = [_child(_CHILD.format(stmt=_FIRST_ANSWER))[1] for _ in range(runs)]
    return {"first_answer_cold_s": round(statistics.median(first), 4)}


def run() -> dict[str, float]:
    """Import and construction figures (seconds and milliseconds, medians)."""
    return {**_import_figures(repeats(15)), **_first_answer_figures(repeats(10)), **_init_figures(repeats(40))}
