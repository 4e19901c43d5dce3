"""Choosing how many BLAS threads decode with, by measuring.

One decoding step is ~120 small matrix-vector products. On an idle machine, splitting each across all cores
nearly halves the step time. When other processes keep the cores busy, every product waits for its slowest
thread and OpenBLAS's spinning threads steal time from each other: two threads then run 5-10x *slower* than
one. No static choice is right, so the tuner times single-token steps with each option (an exponential
moving average), uses the faster one, and re-checks the other now and then, less often each time the
current choice is confirmed. Thread counts are set through threadpoolctl; without it the tuner does nothing.

Trying the multi-threaded option while other processes hold the cores is itself the problem: a step can then
take seconds instead of tens of milliseconds (every product waits for a descheduled thread), and a prompt pass
far longer. So the process-wide tuner also watches the machine (``CpuWatch``: ``/proc/stat`` minus our own CPU
time) and neither tries nor uses more than one thread while other processes keep the other cores busy.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BlasThreadTuner", "CpuWatch"]

_ALPHA = 0.3
_FIRST_RECHECK = 16
_MAX_RECHECK = 512


class BlasThreadTuner:
    """Per-process choice of BLAS thread count for decoding steps."""

    def __init__(self, max_threads: int | None = None, *, others_busy: Callable[[], bool] | None = None) -> None:
        if max_threads is None:
            max_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        cores = max(1, int(max_threads or 1))
        self.options = [cores, 1] if cores > 1 else [1]
        self.estimate: dict[int, float | None] = {n: None for n in self.options}
        self.current = self.options[0]
        self._controllers: list[Any] = []
        self._applied: int | None = None
        self._steps = 0
        self._next_check = _FIRST_RECHECK
        self._interval = _FIRST_RECHECK
        self._lock = threading.Lock()
        self._others_busy = others_busy
        try:
            import numpy  # noqa: F401  (loads the BLAS library that threadpoolctl looks for)
            import threadpoolctl

            self._controllers = list(threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # threadpoolctl missing or no BLAS found: keep the library's own setting
            self._controllers = []
        if not self._controllers:
            self.options = [self.current]
        # what the rest of the process uses; restored after each generation (the setting is process-wide)
        self._original = [c.get_num_threads() for c in self._controllers]

    @property
    def active(self) -> bool:
        return len(self.options) > 1

    def _apply(self, n: int) -> None:
        if n != self._applied:
            for controller in self._controllers:
                controller.set_num_threads(n)
            self._applied = n

    def restore(self) -> None:
        """Give other numpy code in the process its own thread setting back."""
        with self._lock:
            for controller, n in zip(self._controllers, self._original, strict=True):
                controller.set_num_threads(n)
            self._applied = None

    def best(self) -> int:
        known = {n: e for n, e in self.estimate.items() if e is not None}
        untried = [n for n in self.options if self.estimate[n] is None]
        if untried:  # measure every option once before comparing
            return untried[0]
        return min(known, key=known.__getitem__)

    def choose(self) -> int:
        """Set and return the thread count for the next step."""
        with self._lock:
            if not self.active:
                return self.current
            best = self.best()
            n = best
            self._steps += 1
            if self._steps >= self._next_check:
                # re-check the other option for two steps (the first pays for waking threads up)
                others = [o for o in self.options if o != best]
                if others:
                    n = others[0]
                if self._steps >= self._next_check + 1:
                    self._next_check = self._steps + self._interval
            if n > 1 and self._others_busy is not None and self._others_busy():
                n = 1  # other processes hold the cores: more threads would only wait for them
            self._apply(n)
            self.current = n
            return n

    def prefill_threads(self) -> int:
        """Set and return the thread count for a multi-token step (the current best guess)."""
        with self._lock:
            n = self.best() if self.active else self.current
            if n > 1 and self._others_busy is not None and self._others_busy():
                n = 1
            self._apply(n)
            return n

    def record(self, n: int, seconds: float) -> None:
        """Report how long a single-token step took with ``n`` threads."""
        with self._lock:
            if n not in self.estimate:
                return
            before = self.best()
            old = self.estimate[n]
            self.estimate[n] = seconds if old is None else (1 - _ALPHA) * old + _ALPHA * seconds
            after = self.best()
            if after != before:
                self._interval = _FIRST_RECHECK
            elif n != after:  # a re-check confirmed the current choice: look again later
                self._interval = min(_MAX_RECHECK, self._interval * 2)


class CpuWatch:
    """Whether other processes keep the machine's other cores busy, from ``/proc/stat`` minus this process's own
    CPU time, over windows of at least ``window`` seconds (cheap: one small file read per window)."""

    def __init__(self, window: float = 0.25, threshold: float = 0.5) -> None:
        self.window = window
        self.threshold = threshold  # busy when others use more than this share of the cores we'd add
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._hz = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._last: tuple[float, float, float, float] | None = None
        self.busy = False
        self.others = 0.0  # cores' worth of CPU other processes used in the last window

    @staticmethod
    def _machine() -> tuple[float, float] | None:
        try:
            with open("/proc/stat", "rb") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        return float(sum(fields)), float(fields[3] + fields[4])  # all, idle + iowait (jiffies)

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.window:
            return self.busy
        machine = self._machine()
        if machine is None:  # not Linux: no way to tell; let the timings decide
            return False
        own = time.process_time()
        if self._last is None:  # the first question: a short first window (once per process)
            self._last = (now, machine[0], machine[1], own)
            time.sleep(0.05)
            now, machine, own = time.monotonic(), self._machine() or machine, time.process_time()
        if self._last is not None:
            wall, total, idle, own0 = now - self._last[0], machine[0] - self._last[1], machine[1] - self._last[2], \
                own - self._last[3]
            if total > 0 and wall > 0:
                # /proc/stat counts every CPU of the machine; scale its busy share to the cores we may use
                busy_cores = (total - idle) / total * self.cores
                self.others = max(0.0, busy_cores - (own0 / wall))
                self.busy = self.others > self.threshold * max(1, self.cores - 1)
        self._last = (now, machine[0], machine[1], own)
        return self.busy
