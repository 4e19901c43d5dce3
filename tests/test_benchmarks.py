"""The benchmark harness: discovery, one JSON object, failures reported instead of raised."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from benchmarks import run as harness

ROOT = Path(__file__).resolve().parent.parent


def _fake(monkeypatch: pytest.MonkeyPatch, name: str, run: object) -> None:
    module = types.ModuleType(f"benchmarks.bench_{name}")
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)


def test_discover_finds_the_foundation_module() -> None:
    assert "foundation" in harness.discover()
    assert all((ROOT / "benchmarks" / f"bench_{n}.py").is_file() for n in harness.discover())


def test_failing_module_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, float]:
        raise RuntimeError("disk on fire")

    _fake(monkeypatch, "zz_ok", lambda: {"fast_ms": 1.5})
    _fake(monkeypatch, "zz_broken", broken)
    _fake(monkeypatch, "zz_wrong_type", lambda: [1, 2])
    result = harness.run_benchmarks(["zz_broken", "zz_ok", "zz_wrong_type", "zz_missing"])
    assert result["fast_ms"] == 1.5
    assert result["errors"]["zz_broken"].startswith("RuntimeError: disk on fire (test_benchmarks.py:")
    assert result["errors"]["zz_wrong_type"].startswith("TypeError: run() returned list, expected a dict of figures")
    assert result["errors"]["zz_missing"].startswith("ModuleNotFoundError:")
    assert set(result["bench_seconds"]) == {"zz_broken", "zz_ok", "zz_wrong_type", "zz_missing"}
    assert result["machine"]["cpus"] >= 1


def test_colliding_figure_names_are_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "zz_a", lambda: {"x": 1.0})
    _fake(monkeypatch, "zz_b", lambda: {"x": 2.0})
    result = harness.run_benchmarks(["zz_a", "zz_b"])
    assert (result["x"], result["zz_b.x"]) == (1.0, 2.0)


def test_quick_flag_reaches_run_and_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    _fake(monkeypatch, "zz_quick", lambda quick: seen.append(quick) or {"n": float(harness.repeats(50))})
    monkeypatch.setenv(harness.QUICK_ENV, "1")
    assert harness.run_benchmarks(["zz_quick"])["n"] == 10.0
    monkeypatch.delenv(harness.QUICK_ENV)
    assert harness.run_benchmarks(["zz_quick"])["n"] == 50.0
    assert seen == [True, False]


def test_median_seconds_measures_the_call() -> None:
    import time

    assert 0.002 <= harness.median_seconds(lambda: time.sleep(0.002), 3) < 0.5


@pytest.mark.slow
def test_command_line_prints_one_json_object_with_the_foundation_figures() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "foundation", "--quick"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["errors"] == {}
    for key in ("import_s", "import_inproc_s", "import_facade_s", "kaizen_init_ms", "python_startup_s"):
        assert isinstance(result[key], float) and result[key] >= 0, key
    assert result["machine"]["quick"] is True


def test_unknown_module_name_is_a_usage_error() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "foundaton"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2
    assert "unknown benchmark 'foundaton'" in out.stderr
