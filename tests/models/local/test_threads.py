"""The BLAS thread tuner picks the faster thread count from measured step times."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kaizen_lab.models.local._threads import BlasThreadTuner


def drive(tuner: BlasThreadTuner, cost: dict[int, float], steps: int) -> list[int]:
    used = []
    for _ in range(steps):
        n = tuner.choose()
        tuner.record(n, cost[n])
        used.append(n)
    return used


@pytest.fixture
def tuner():  # type: ignore[no-untyped-def]
    t = BlasThreadTuner(max_threads=2)
    if not t.active:
        pytest.skip("threadpoolctl found no BLAS library to control")
    yield t
    t.restore()  # leave the process as we found it


def test_busy_machine_switches_to_one_thread(tuner: BlasThreadTuner) -> None:
    used = drive(tuner, {2: 0.400, 1: 0.100}, 300)
    assert tuner.best() == 1
    assert used[-50:].count(1) >= 48
    assert sum(1 for n in used if n == 2) < 20  # re-checks of the slow option get rarer


def test_idle_machine_keeps_all_cores(tuner: BlasThreadTuner) -> None:
    used = drive(tuner, {2: 0.030, 1: 0.055}, 200)
    assert tuner.best() == 2
    assert used.count(2) > 180


def test_follows_a_change_in_load(tuner: BlasThreadTuner) -> None:
    drive(tuner, {2: 0.030, 1: 0.055}, 100)
    drive(tuner, {2: 0.400, 1: 0.100}, 600)
    assert tuner.best() == 1


def test_without_a_choice_it_stays_put() -> None:
    single = BlasThreadTuner(max_threads=1)
    assert not single.active and single.choose() == 1


def test_restore_gives_back_the_process_setting() -> None:
    # In a fresh process: OpenBLAS's reported setting is only reliable before other threads have used it.
    code = """
from kaizen_lab.models.local._threads import BlasThreadTuner
t = BlasThreadTuner(max_threads=2)
if not t.active:
    raise SystemExit(0)
before = [c.get_num_threads() for c in t._controllers]
for _ in range(40):
    n = t.choose()
    t.record(n, {2: 0.4, 1: 0.1}[n])
assert [c.get_num_threads() for c in t._controllers] == [1] * len(before)
t.restore()
assert [c.get_num_threads() for c in t._controllers] == before, before
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_busy_cores_keep_it_to_one_thread_without_trying_more() -> None:
    busy = {"now": True}
    t = BlasThreadTuner(max_threads=2, others_busy=lambda: busy["now"])
    if not t.active:
        pytest.skip("threadpoolctl found no BLAS library to control")
    try:
        # two threads would be faster if tried, but other processes hold the cores: never tried, never used
        used = drive(t, {2: 0.010, 1: 0.050}, 100)
        assert set(used) == {1} and t.prefill_threads() == 1 and t.estimate[2] is None
        busy["now"] = False  # the cores free up: the tuner measures and takes two threads
        used = drive(t, {2: 0.010, 1: 0.050}, 50)
        assert used[-10:] == [2] * 10 and t.prefill_threads() == 2
    finally:
        t.restore()
