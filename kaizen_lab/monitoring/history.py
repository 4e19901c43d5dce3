"""Samples of ``prometheus_client`` registries over time, so rules can ask "how much did this grow in 5 minutes".

Each ``sample()`` reads every series of the registries (what a scrape of ``/metrics`` would return) and keeps it
with its time. Recent samples are kept at full resolution; older ones, needed only by long windows such as a daily
budget, are thinned to about a hundred per window, so a day of history stays small.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kaizen_lab.monitoring.rules import LabelSet

__all__ = ["MetricHistory", "read_registry"]

Snapshot = dict[str, dict[LabelSet, float]]


def read_registry(registries: Iterable[Any]) -> Snapshot:
    """Every sample of the registries, by sample name (``kaizen_agent_runs_total``) and label set."""
    out: Snapshot = {}
    for registry in registries:
        for family in registry.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                labels = tuple(sorted((str(k), str(v)) for k, v in sample.labels.items()))
                out.setdefault(sample.name, {})[labels] = float(sample.value)
    return out


class MetricHistory:
    """Timed snapshots of registries with counter increases and current values per series.

    Args:
        registries: ``prometheus_client`` registries (or anything with ``collect()``) to read.
        horizon_s: the longest window any rule asks about.
        fine_s: how far back every sample is kept; older samples are thinned.
        clock: the time source (seconds), injectable for tests.
    """

    def __init__(self, registries: Sequence[Any], *, horizon_s: float = 3600.0, fine_s: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.registries = list(registries)
        self.horizon_s = horizon_s
        self.fine_s = fine_s
        self.clock = clock
        self._times: list[float] = []
        self._snapshots: list[Snapshot] = []
        self._lock = threading.Lock()

    def sample(self, now: float | None = None) -> Snapshot:
        """Read the registries now and keep the result."""
        now = self.clock() if now is None else now
        snapshot = read_registry(self.registries)
        with self._lock:
            self._times.append(now)
            self._snapshots.append(snapshot)
            self._prune(now)
        return snapshot

    @property
    def now(self) -> float:
        return self._times[-1] if self._times else self.clock()

    def __len__(self) -> int:
        return len(self._times)

    def _prune(self, now: float) -> None:
        # keep one sample older than the horizon as the baseline of the longest window
        cut = bisect.bisect_right(self._times, now - self.horizon_s) - 1
        if cut > 0:
            del self._times[:cut]
            del self._snapshots[:cut]
        step = max(self.horizon_s / 100, 1.0)
        fine_from = now - self.fine_s
        keep_t: list[float] = []
        keep_s: list[Snapshot] = []
        last_bucket = None
        for t, snap in zip(self._times, self._snapshots, strict=True):
            if t < fine_from:
                bucket = int(t // step)
                if bucket == last_bucket:
                    continue
                last_bucket = bucket
            keep_t.append(t)
            keep_s.append(snap)
        self._times, self._snapshots = keep_t, keep_s

    def increase(self, metric: str, window_s: float) -> dict[LabelSet, float]:
        """How much each series of a counter grew over the last ``window_s`` seconds.

        The baseline is the newest sample at least ``window_s`` old, else the oldest sample; a series absent from
        the baseline started at zero (counters of this process are born at zero). A drop (a reset) counts the new
        value, as Prometheus does.
        """
        with self._lock:
            if not self._times:
                return {}
            latest = self._snapshots[-1].get(metric, {})
            index = bisect.bisect_right(self._times, self._times[-1] - window_s) - 1
            base = self._snapshots[max(index, 0)].get(metric, {})
        out = {}
        for labels, value in latest.items():
            before = base.get(labels, 0.0)
            out[labels] = value - before if value >= before else value
        return out

    def current(self, metric: str) -> dict[LabelSet, float]:
        """The latest value of each series."""
        with self._lock:
            return dict(self._snapshots[-1].get(metric, {})) if self._snapshots else {}

    def snapshots(self, window_s: float) -> list[tuple[float, Snapshot]]:
        """Every kept ``(time, snapshot)`` in the last ``window_s`` seconds, plus the one just before (a baseline)."""
        with self._lock:
            if not self._times:
                return []
            start = max(bisect.bisect_left(self._times, self._times[-1] - window_s) - 1, 0)
            return list(zip(self._times[start:], self._snapshots[start:], strict=True))
