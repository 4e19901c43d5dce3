"""Rules: the PromQL they print and the values they compute from a real ``prometheus_client`` registry."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from kaizen_lab.config import load_config
from kaizen_lab.errors import ConfigError
from kaizen_lab.monitoring.history import MetricHistory
from kaizen_lab.monitoring.rules import (
    AlertRule,
    Increase,
    Quantile,
    Ratio,
    Selector,
    default_rules,
    format_duration,
    histogram_quantile,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_durations_print_as_prometheus_durations() -> None:
    assert [format_duration(s) for s in (0, 0.5, 5, 60, 90, 3600, 86400)] == \
        ["0s", "500ms", "5s", "1m", "1m30s", "1h", "1d"]


def test_histogram_quantile_follows_prometheus() -> None:
    # 10 observations: 5 at or below 0.1, 9 at or below 0.5, all at or below 1.0
    buckets = {0.1: 5.0, 0.5: 9.0, 1.0: 10.0, math.inf: 10.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.9, buckets) == pytest.approx(0.5)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.75)  # halfway through the 0.5-1.0 bucket
    assert histogram_quantile(0.99, {0.1: 0.0, 0.5: 0.0, math.inf: 4.0}) == 0.5  # above every finite bucket
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None  # no observations: no sample
    assert histogram_quantile(0.5, {0.1: 3.0}) is None  # no +Inf bucket


def test_increase_ratio_and_quantile_over_a_window() -> None:
    registry, clock = CollectorRegistry(), Clock()
    runs = Counter("kaizen_agent_runs", "", ["agent", "channel", "status"], registry=registry)
    latency = Histogram("kaizen_agent_run_latency_seconds", "", ["agent", "channel"], registry=registry,
                        buckets=(0.1, 1.0))
    history = MetricHistory([registry], horizon_s=600, clock=clock)
    runs.labels("qa", "api", "ok").inc(100)  # long before the window: not counted
    history.sample()
    clock.now += 600
    history.sample()
    runs.labels("qa", "api", "ok").inc(6)
    runs.labels("qa", "mcp", "error").inc(2)
    runs.labels("qa", "api", "called").inc(50)  # neither ok nor error
    runs.labels("other", "api", "ok").inc(4)
    for seconds in (0.05, 0.05, 0.5, 2.0):
        latency.labels("qa", "api").observe(seconds)
    clock.now += 60
    history.sample()
    finished = Increase(Selector("kaizen_agent_runs_total", (("status", "=~", "ok|error"),)), 300)
    errors = Increase(Selector("kaizen_agent_runs_total", (("status", "=", "error"),)), 300)
    assert finished.evaluate(history) == {(("agent", "qa"),): 8.0, (("agent", "other"),): 4.0}
    assert Ratio(errors, finished).evaluate(history) == {(("agent", "qa"),): 0.25}
    p50 = Quantile(0.5, "kaizen_agent_run_latency_seconds", 300).evaluate(history)
    assert p50[(("agent", "qa"),)] == pytest.approx(0.1)
    rule = AlertRule("ErrorsHigh", Ratio(errors, finished), ">", 0.2, summary="{labels}: {value}", unit="ratio")
    assert rule.firing(history) == {(("agent", "qa"),): 0.25}
    assert rule.describe((("agent", "qa"),), 0.25) == "agent=qa: 25.0%"


def test_a_gauge_rule_sees_the_current_value() -> None:
    from kaizen_lab.monitoring.rules import Gauge as GaugeExpr

    registry = CollectorRegistry()
    up = Gauge("kaizen_mcp_server_up", "", ["server"], registry=registry)
    up.labels("time").set(1)
    up.labels("files").set(0)
    history = MetricHistory([registry])
    history.sample()
    rule = AlertRule("Down", GaugeExpr(Selector("kaizen_mcp_server_up"), ("server",)), "<", 1)
    assert rule.firing(history) == {(("server", "files"),): 0.0}
    assert rule.promql() == "min by (server) (kaizen_mcp_server_up) < 1"


def test_promql_quotes_label_values() -> None:
    selector = Selector("m", (("agent", "=", 'a"b\\c'),))
    assert selector.promql() == 'm{agent="a\\"b\\\\c"}'
    assert selector.matches((("agent", 'a"b\\c'),)) and not selector.matches((("agent", "ab"),))


def test_default_rules_follow_the_config() -> None:
    names = [r.name for r in default_rules(load_config({}))]
    assert "KaizenAgentErrorRateHigh" in names and "KaizenTokenBudgetExceeded" not in names
    config = load_config({"monitoring": {"token_budget": 1000, "cost_budget_usd": 2.5, "error_rate": 0.2,
                                         "disabled_rules": ["KaizenStoreNearRetention"]}})
    rules = {r.name: r for r in default_rules(config)}
    assert rules["KaizenTokenBudgetExceeded"].threshold == 1000
    assert rules["KaizenCostBudgetExceeded"].promql().startswith("sum by (agent) (increase(kaizen_agent_cost_usd_total[1d]))")
    assert rules["KaizenAgentErrorRateHigh"].threshold == 0.2
    assert "KaizenStoreNearRetention" not in rules


def test_an_unknown_disabled_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="did you mean 'KaizenAgentErrorRateHigh'"):
        default_rules(load_config({"monitoring": {"disabled_rules": ["KaizenAgentErrorRateHig"]}}))


def test_bad_thresholds_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="monitoring.error_rate"):
        load_config({"monitoring": {"error_rate": 2}})
