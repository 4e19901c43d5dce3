"""The numbers behind the monitoring dashboard, computed from metric samples (no plotting here).

Each point is computed over the samples of the preceding ``smooth_s`` seconds: requests per second, the error
ratio, latency p50/p95 (Prometheus's ``histogram_quantile`` over the bucket increases), tokens per second and
the cost so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kaizen_lab.monitoring.history import MetricHistory, Snapshot
from kaizen_lab.monitoring.rules import COST, LATENCY, RUNS, TOKENS, histogram_quantile

__all__ = ["DashboardData", "dashboard_data"]


@dataclass
class DashboardData:
    """Time series for the dashboard's charts (one entry per sample), all lists of the same length."""

    t: list[float] = field(default_factory=list)
    requests_per_s: list[float] = field(default_factory=list)
    error_ratio: list[float | None] = field(default_factory=list)
    latency_p50_s: list[float | None] = field(default_factory=list)
    latency_p95_s: list[float | None] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    cost_usd: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t)


def _total(snap: Snapshot, metric: str, status: tuple[str, ...] | None = None) -> float:
    total = 0.0
    for labels, value in snap.get(metric, {}).items():
        if status is None or dict(labels).get("status") in status:
            total += value
    return total


def _buckets(snap: Snapshot) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in snap.get(f"{LATENCY}_bucket", {}).items():
        le = dict(labels).get("le", "+Inf")
        bound = math.inf if le in ("+Inf", "inf") else float(le)
        out[bound] = out.get(bound, 0.0) + value
    return out


def dashboard_data(history: MetricHistory, *, window_s: float = 600.0, smooth_s: float = 60.0) -> DashboardData:
    """The dashboard's series over the last ``window_s`` seconds."""
    samples = history.snapshots(window_s)
    data = DashboardData()
    for i in range(1, len(samples)):
        t, snap = samples[i]
        j = i - 1
        while j > 0 and samples[j - 1][0] >= t - smooth_s:
            j -= 1
        t0, base = samples[j]
        dt = max(t - t0, 1e-9)
        runs = _total(snap, RUNS, ("ok", "error")) - _total(base, RUNS, ("ok", "error"))
        errors = _total(snap, RUNS, ("error",)) - _total(base, RUNS, ("error",))
        now_b, base_b = _buckets(snap), _buckets(base)
        grown = {b: now_b[b] - base_b.get(b, 0.0) for b in now_b}
        cost_series = snap.get(COST, {})
        data.t.append(t)
        data.requests_per_s.append(max(runs, 0.0) / dt)
        data.error_ratio.append(errors / runs if runs > 0 else None)
        data.latency_p50_s.append(histogram_quantile(0.5, grown))
        data.latency_p95_s.append(histogram_quantile(0.95, grown))
        data.tokens_per_s.append(max(_total(snap, TOKENS) - _total(base, TOKENS), 0.0) / dt)
        data.cost_usd.append(sum(cost_series.values()) if cost_series else None)
    return data
