"""Percentiles, performance aggregation and critical paths (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_lab.tracing.metrics import critical_path, percentile, performance_metrics
from kaizen_lab.tracing.spans import RunSummary


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([], 50) is None
    assert percentile(list(range(101)), 95) == 95


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_percentiles_are_ordered_and_bounded(values: list[float]) -> None:
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    assert min(values) <= p50 <= p95 <= p99 <= max(values)


def _run(ms: float, status: str = "ok", hits: int = 0, calls: int = 1, cost: float | None = None) -> RunSummary:
    return RunSummary("r", "r", None, "a", "agent", status, 0.0, 1.0, ms, input_tokens=10, output_tokens=5,
                      cost=cost, model_calls=calls, cache_hits=hits)


def test_performance_metrics_rates_and_cost() -> None:
    m = performance_metrics([_run(10, cost=0.5), _run(20, "error"), _run(30, hits=1, cost=0.25)])
    assert m.runs == 3 and m.error_rate == pytest.approx(1 / 3)
    assert m.cache_hit_rate == pytest.approx(1 / 3) and m.cost == 0.75
    assert m.latency_p50_ms == 20 and m.tokens_per_run == 15


def test_performance_metrics_without_prices_has_no_cost() -> None:
    assert performance_metrics([_run(1)]).cost is None


def test_critical_path_follows_the_heaviest_chain() -> None:
    durations = {"a": 1, "b": 10, "c": 2, "d": 1}
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert critical_path(durations, edges) == ["a", "b", "d"]
    assert critical_path({"x": 1, "y": 2}, []) == ["x", "y"]
    assert critical_path({"x": 1, "y": 5}, [("x", "y"), ("y", "x")]) in (["x", "y"], ["y", "x"])
