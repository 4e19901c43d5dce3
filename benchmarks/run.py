"""Benchmark harness.

Discovers ``benchmarks/bench_*.py``, calls each module's ``run()`` (which returns ``{figure: number}``,
medians of many runs) and prints ONE JSON object: every figure at the top level, plus ``machine`` (where it
ran) and ``errors`` (modules that failed, with the reason — a failing module never stops the others).

``--quick`` sets ``KAIZEN_BENCH_QUICK=1``; modules scale their repetitions with ``repeats(n)``. A ``run`` that
accepts a ``quick`` keyword also receives it directly. Figures are for reading, never asserted in tests.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUICK_ENV = "KAIZEN_BENCH_QUICK"

__all__ = ["discover", "main", "median_seconds", "quick", "repeats", "run_benchmarks"]


def quick() -> bool:
    """True when the harness runs with ``--quick``."""
    return os.environ.get(QUICK_ENV) == "1"


def repeats(n: int, minimum: int = 3) -> int:
    """``n`` normally, about a fifth of it (at least ``minimum``) with ``--quick``."""
    return max(minimum, n // 5) if quick() else n


def median_seconds(fn: Callable[[], Any], runs: int, *, inner: int = 1) -> float:
    """Median over ``runs`` samples of the time one call of ``fn`` takes (each sample averages ``inner`` calls)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def discover() -> list[str]:
    """Names of the benchmark modules (``foundation`` for ``bench_foundation.py``), sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": quick(),
        # the machine may be shared: figures taken under load are noisier (ratios less so than times)
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def run_benchmarks(names: Sequence[str]) -> dict[str, Any]:
    """Run the named modules and merge their figures; failures go under ``errors``."""
    figures: dict[str, Any] = {}
    errors: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name in names:
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            run = module.run
            result = run(quick=quick()) if "quick" in inspect.signature(run).parameters else run()
            if not isinstance(result, dict):
                raise TypeError(f"run() returned {type(result).__name__}, expected a dict of figures")
            for key, value in result.items():
                figures[key if key not in figures else f"{name}.{key}"] = value
        except (Exception, SystemExit) as exc:  # one broken module must not hide the others' figures
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
            errors[name] = f"{type(exc).__name__}: {exc}{where}"
        durations[name] = round(time.perf_counter() - start, 3)
    return {**figures, "machine": _machine(), "bench_seconds": durations, "errors": errors}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the JSON object and returns 0 (1 if a module failed)."""
    available = discover()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only this module (repeatable, or comma-separated); one of: {', '.join(available)}")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier figures)")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available))
        return 0
    names = [n.strip().removeprefix("bench_") for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; available: {', '.join(available)}")
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    result = run_benchmarks(names or available)
    print(json.dumps(result, indent=2, sort_keys=False))
    return 1 if result["errors"] else 0


if __name__ == "__main__":  # python benchmarks/run.py
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
