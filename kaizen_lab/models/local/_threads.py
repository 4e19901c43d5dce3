"""Choosing how many BLAS threads decode with, by measuring.

One decoding step is ~120 small matrix-vector products. On an idle machine, splitting each across all cores
nearly halves the step time. When other processes keep the cores busy, every product waits for its slowest
thread and OpenBLAS's spinning threads steal time from each other: two threads then run 5-10x *slower* than
one. No static choice is right, so the tuner times single-token steps with each option (an exponential
moving average), uses the faster one, and re-checks the other now and then, less often each time the
current choice is confirmed. Thread counts are set through threadpoolctl; without it the tuner does nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["BlasThreadTuner"]

_ALPHA = 0.3
_FIRST_RECHECK = 16
_MAX_RECHECK = 512


class BlasThreadTuner:
    """Per-process choice of BLAS thread count for decoding steps."""

    def __init__(self, max_threads: int | None = None) -> None:
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
            self._apply(n)
            self.current = n
            return n

    def prefill_threads(self) -> int:
        """Set and return the thread count for a multi-token step (the current best guess)."""
        with self._lock:
            n = self.best() if self.active else self.current
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
