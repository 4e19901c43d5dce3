"""Pure aggregations over run summaries and spans: percentiles, performance figures, critical paths.

No I/O and no state: the monitor feeds them store rows, notebook panels feed them traces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from kaizen_lab.tracing.spans import RunSummary, Span

__all__ = ["PerformanceMetrics", "critical_path", "percentile", "performance_metrics", "resource_usage"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """Latency, usage and reliability of a set of runs."""

    runs: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_mean_ms: float | None
    input_tokens: int
    output_tokens: int
    tokens_per_run: float | None
    cost: float | None
    cost_per_run: float | None
    error_rate: float | None
    cache_hit_rate: float | None
    retry_rate: float | None
    model_calls: int
    tool_calls: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance_metrics(runs: Iterable[RunSummary]) -> PerformanceMetrics:
    """Aggregate finished runs: p50/p95/p99 latency, tokens, cost, error rate, cache hit rate, retry rate."""
    items = [r for r in runs if r.status != "running"]
    n = len(items)
    latencies = [r.duration_ms for r in items if r.duration_ms is not None]
    tokens_in = sum(r.input_tokens for r in items)
    tokens_out = sum(r.output_tokens for r in items)
    costs = [r.cost for r in items if r.cost is not None]
    cost = sum(costs) if costs else None
    calls = sum(r.model_calls for r in items)
    return PerformanceMetrics(
        runs=n,
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        latency_p99_ms=percentile(latencies, 99),
        latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
        input_tokens=tokens_in, output_tokens=tokens_out,
        tokens_per_run=(tokens_in + tokens_out) / n if n else None,
        cost=cost, cost_per_run=cost / n if cost is not None and n else None,
        error_rate=sum(r.status == "error" for r in items) / n if n else None,
        cache_hit_rate=sum(r.cache_hits for r in items) / calls if calls else None,
        retry_rate=sum(r.retries for r in items) / n if n else None,
        model_calls=calls, tool_calls=sum(r.tool_calls for r in items),
    )


def resource_usage(runs: Iterable[RunSummary], spans: Iterable[Span]) -> dict[str, Any]:
    """Tokens, cost, calls and time, in total and per model and per tool."""
    items = list(runs)
    by_model: dict[str, dict[str, Any]] = {}
    by_tool: dict[str, dict[str, Any]] = {}
    for s in spans:
        if s.kind == "model":
            m = by_model.setdefault(s.name, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": None,
                                             "cache_hits": 0, "total_ms": 0.0})
            a = s.attributes
            m["calls"] += 1
            m["input_tokens"] += a.get("input_tokens", 0)
            m["output_tokens"] += a.get("output_tokens", 0)
            m["cache_hits"] += 1 if a.get("cache_hit") else 0
            m["total_ms"] += s.duration_ms or 0.0
            if a.get("cost") is not None:
                m["cost"] = (m["cost"] or 0.0) + a["cost"]
        elif s.kind == "tool":
            t = by_tool.setdefault(s.name, {"calls": 0, "errors": 0, "total_ms": 0.0})
            t["calls"] += 1
            t["errors"] += s.status == "error"
            t["total_ms"] += s.duration_ms or 0.0
    costs = [r.cost for r in items if r.cost is not None]
    return {"runs": len(items), "input_tokens": sum(r.input_tokens for r in items),
            "output_tokens": sum(r.output_tokens for r in items),
            "total_tokens": sum(r.input_tokens + r.output_tokens for r in items),
            "cost": sum(costs) if costs else None, "model_calls": sum(r.model_calls for r in items),
            "tool_calls": sum(r.tool_calls for r in items),
            "wall_time_ms": sum(r.duration_ms or 0.0 for r in items), "by_model": by_model, "by_tool": by_tool}


def critical_path(durations: Mapping[str, float], edges: Iterable[tuple[str, str]],
                  order: Sequence[str] | None = None) -> list[str]:
    """The chain of nodes with the largest total duration through a DAG (cycle edges left out by the caller).

    Args:
        durations: node id → time spent in it (ms, all iterations summed).
        edges: (source, target) pairs.
        order: node ids in execution order, used to break ties and to chain nodes when there are no edges.
    """
    nodes = list(order or durations)
    edge_list = [(a, b) for a, b in edges if a in durations and b in durations and a != b]
    if not edge_list:  # nothing known about dependencies: the nodes ran one after another
        return [n for n in nodes if n in durations]
    preds: dict[str, list[str]] = {n: [] for n in durations}
    for a, b in edge_list:
        preds[b].append(a)
    position = {n: i for i, n in enumerate(nodes)}
    best: dict[str, float] = {}
    prev: dict[str, str | None] = {}
    visiting: set[str] = set()

    def longest(n: str) -> float:
        if n in best:
            return best[n]
        visiting.add(n)
        choice, length = None, 0.0
        for p in sorted(preds[n], key=lambda x: position.get(x, 0)):
            if p in visiting:  # a cycle slipped through: ignore that edge
                continue
            value = longest(p)
            if value > length:
                choice, length = p, value
        visiting.discard(n)
        best[n] = length + durations[n]
        prev[n] = choice
        return best[n]

    end = max(durations, key=lambda n: (longest(n), -position.get(n, 0)))
    path = []
    cur: str | None = end
    while cur is not None:
        path.append(cur)
        cur = prev.get(cur)
    return path[::-1]
