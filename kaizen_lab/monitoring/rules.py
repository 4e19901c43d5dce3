"""Alert rules written once, evaluated two ways: in this process and, exported as PromQL, by Prometheus.

A rule's expression is a small tree (``Increase``, ``Ratio``, ``Quantile``, ``Gauge``) that knows both how to print
itself as PromQL and how to compute the same value from samples of a ``prometheus_client`` registry
(``MetricHistory``). Keeping one definition is what makes "the same rule, the same threshold" hold between the
in-process evaluator and a Prometheus server scraping ``/metrics``. No Python library evaluates PromQL, so the
four operators the rules need are implemented here, each following Prometheus's definition (``histogram_quantile``
interpolates linearly inside the bucket, as Prometheus does).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kaizen_lab.errors import ConfigError, did_you_mean

__all__ = ["AlertRule", "Gauge", "Increase", "LabelSet", "Quantile", "Ratio", "Selector", "default_rules",
           "format_duration"]

#: a series' labels as a sorted tuple of (name, value) pairs (hashable, order-independent)
LabelSet = tuple[tuple[str, str], ...]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}


def format_duration(seconds: float) -> str:
    """A Prometheus duration (``90`` → ``1m30s``, ``0.5`` → ``500ms``)."""
    if seconds <= 0:
        return "0s"
    ms = round(seconds * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class SeriesSource(Protocol):
    """What an expression reads: counter increases over a window and current values, per series."""

    def increase(self, metric: str, window_s: float) -> dict[LabelSet, float]: ...

    def current(self, metric: str) -> dict[LabelSet, float]: ...


@dataclass(frozen=True)
class Selector:
    """A metric name with label matchers: ``("status", "=", "error")`` or ``("status", "=~", "ok|error")``."""

    metric: str
    matchers: tuple[tuple[str, Literal["=", "=~"], str], ...] = ()

    def promql(self) -> str:
        if not self.matchers:
            return self.metric
        inner = ",".join(f"{name}{op}{_quote(value)}" for name, op, value in self.matchers)
        return f"{self.metric}{{{inner}}}"

    def matches(self, labels: LabelSet) -> bool:
        import re

        values = dict(labels)
        for name, op, expected in self.matchers:
            actual = values.get(name, "")
            if op == "=" and actual != expected:
                return False
            if op == "=~" and re.fullmatch(expected, actual) is None:  # PromQL regexes are anchored
                return False
        return True


def _group(series: Mapping[LabelSet, float], by: Sequence[str],
           combine: Callable[[Iterable[float]], float] = sum) -> dict[LabelSet, float]:
    buckets: dict[LabelSet, list[float]] = {}
    for labels, value in series.items():
        values = dict(labels)
        key = tuple((name, values.get(name, "")) for name in by)
        buckets.setdefault(key, []).append(value)
    return {key: combine(values) for key, values in buckets.items()}


_AGGREGATES: dict[str, Callable[[Iterable[float]], float]] = {"min": min, "max": max, "sum": sum}


def _by(by: Sequence[str]) -> str:
    return f"sum by ({', '.join(by)})" if by else "sum"


@dataclass(frozen=True)
class Increase:
    """``sum by (...) (increase(counter[window]))``: how much a counter grew over the window."""

    selector: Selector
    window_s: float
    by: tuple[str, ...] = ("agent",)

    def promql(self) -> str:
        return f"{_by(self.by)} (increase({self.selector.promql()}[{format_duration(self.window_s)}]))"

    def evaluate(self, source: SeriesSource) -> dict[LabelSet, float]:
        grown = source.increase(self.selector.metric, self.window_s)
        return _group({k: v for k, v in grown.items() if self.selector.matches(k)}, self.by)


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator``, matched on the grouping labels; series with a zero denominator drop out."""

    numerator: Increase
    denominator: Increase

    def promql(self) -> str:
        return f"({self.numerator.promql()}) / ({self.denominator.promql()})"

    def evaluate(self, source: SeriesSource) -> dict[LabelSet, float]:
        top, bottom = self.numerator.evaluate(source), self.denominator.evaluate(source)
        return {k: top[k] / bottom[k] for k in top if bottom.get(k)}


@dataclass(frozen=True)
class Quantile:
    """``histogram_quantile(q, sum by (..., le) (rate(histogram_bucket[window])))``."""

    q: float
    histogram: str
    window_s: float
    by: tuple[str, ...] = ("agent",)

    def promql(self) -> str:
        by = ", ".join((*self.by, "le"))
        return (f"histogram_quantile({self.q:g}, sum by ({by}) "
                f"(rate({self.histogram}_bucket[{format_duration(self.window_s)}])))")

    def evaluate(self, source: SeriesSource) -> dict[LabelSet, float]:
        grown = source.increase(f"{self.histogram}_bucket", self.window_s)
        per_group: dict[LabelSet, dict[float, float]] = {}
        for labels, value in grown.items():
            values = dict(labels)
            key = tuple((name, values.get(name, "")) for name in self.by)
            bound = math.inf if values.get("le") in ("+Inf", "inf") else float(values.get("le", "nan"))
            group = per_group.setdefault(key, {})
            group[bound] = group.get(bound, 0.0) + value
        out = {}
        for key, buckets in per_group.items():
            quantile = histogram_quantile(self.q, buckets)
            if quantile is not None:
                out[key] = quantile
        return out


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's ``histogram_quantile`` over cumulative bucket counts keyed by upper bound (``inf`` last).

    ``None`` where Prometheus gives no sample or NaN (no observations, no ``+Inf`` bucket).
    """
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:  # the quantile lies above every finite bucket: Prometheus answers the last bound
                return bounds[-2] if len(bounds) > 1 else None
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return None


@dataclass(frozen=True)
class Gauge:
    """``min|max|sum by (...) (gauge)``: a current value such as ``kaizen_mcp_server_up``."""

    selector: Selector
    by: tuple[str, ...] = ()
    aggregate: Literal["min", "max", "sum"] = "min"

    def promql(self) -> str:
        by = f" by ({', '.join(self.by)})" if self.by else ""
        return f"{self.aggregate}{by} ({self.selector.promql()})"

    def evaluate(self, source: SeriesSource) -> dict[LabelSet, float]:
        current = {k: v for k, v in source.current(self.selector.metric).items() if self.selector.matches(k)}
        combine: Callable[[Iterable[float]], float] = _AGGREGATES[self.aggregate]
        return _group(current, self.by, combine)


Expression = Increase | Ratio | Quantile | Gauge


@dataclass(frozen=True)
class AlertRule:
    """One alert: ``expression <op> threshold`` held for ``for_s`` seconds fires, per label set of the result.

    Attributes:
        name: the alert name (``KaizenAgentErrorRateHigh``), as Prometheus and Alertmanager show it.
        expression: what is measured.
        op, threshold: the condition.
        for_s: how long the condition must hold before the alert fires (pending until then).
        severity: ``warning`` or ``critical`` (a label on the alert).
        summary: a one-line description; ``{labels}`` and ``{value}`` are filled in.
        unit: how to show the value (``ratio`` as a percentage, ``seconds``, ``tokens``, ``usd``, ``count``).
    """

    name: str
    expression: Expression
    op: Comparison
    threshold: float
    for_s: float = 0.0
    severity: Literal["info", "warning", "critical"] = "warning"
    summary: str = ""
    unit: Literal["ratio", "seconds", "tokens", "usd", "count", "bool"] = "count"
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    def promql(self) -> str:
        return f"{self.expression.promql()} {self.op} {self.threshold:g}"

    def firing(self, source: SeriesSource) -> dict[LabelSet, float]:
        """The label sets whose value meets the condition now, with their values."""
        compare = _COMPARE[self.op]
        return {k: v for k, v in self.expression.evaluate(source).items() if compare(v, self.threshold)}

    def describe(self, labels: LabelSet, value: float) -> str:
        where = ", ".join(f"{k}={v}" for k, v in labels) or "all"
        return (self.summary or self.name).format(labels=where, value=format_value(value, self.unit),
                                                  threshold=format_value(self.threshold, self.unit))


def format_value(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:.3g} s"
    if unit == "usd":
        return f"${value:,.4g}"
    if unit == "tokens":
        return f"{value:,.0f} tokens"
    return f"{value:g}"


# ------------------------------------------------------------------------------------------------ defaults

RUNS = "kaizen_agent_runs_total"
LATENCY = "kaizen_agent_run_latency_seconds"
TOKENS = "kaizen_agent_tokens_total"
COST = "kaizen_agent_cost_usd_total"
RETRIES = "kaizen_agent_retries_total"
TIMEOUTS = "kaizen_agent_timeouts_total"
MCP_UP = "kaizen_mcp_server_up"
WORKERS_UP = "kaizen_distributed_workers"
QUEUE_DEPTH = "kaizen_distributed_queue_depth"
AUDIT_VALID = "kaizen_audit_chain_valid"
STORE_FILL = "kaizen_store_retention_fill_ratio"

_FINISHED = Selector(RUNS, (("status", "=~", "ok|error"),))


def default_rules(config: Any = None) -> list[AlertRule]:
    """The built-in rules, thresholds from ``config.monitoring`` (a ``KaizenConfig`` or ``MonitoringConfig``).

    Budget rules exist only when a budget is configured; ``monitoring.disabled_rules`` removes rules by name.
    """
    m = _monitoring_section(config)
    w = m.window_s
    rules = [
        AlertRule("KaizenAgentErrorRateHigh",
                  Ratio(Increase(Selector(RUNS, (("status", "=", "error"),)), w), Increase(_FINISHED, w)),
                  ">", m.error_rate, m.error_rate_for_s, "critical",
                  "{labels}: {value} of runs failed (threshold {threshold})", "ratio"),
        AlertRule("KaizenAgentLatencyP95High", Quantile(0.95, LATENCY, w), ">", m.latency_p95_s, m.latency_for_s,
                  "warning", "{labels}: p95 latency {value} (threshold {threshold})", "seconds"),
        AlertRule("KaizenAgentRetryRateHigh", Ratio(Increase(Selector(RETRIES), w), Increase(_FINISHED, w)),
                  ">", m.retry_rate, m.error_rate_for_s, "warning",
                  "{labels}: {value} model retries per run (threshold {threshold})", "count"),
        AlertRule("KaizenAgentTimeoutRateHigh", Ratio(Increase(Selector(TIMEOUTS), w), Increase(_FINISHED, w)),
                  ">", m.timeout_rate, m.error_rate_for_s, "warning",
                  "{labels}: {value} of runs timed out (threshold {threshold})", "ratio"),
        AlertRule("KaizenMCPServerDown", Gauge(Selector(MCP_UP), ("server",)), "<", 1, m.health_for_s, "critical",
                  "MCP server {labels} is not answering", "bool"),
        AlertRule("KaizenWorkersDown", Gauge(Selector(WORKERS_UP), ("queue",)), "<", 1, m.health_for_s,
                  "critical", "no distributed worker is alive for {labels}", "count"),
        AlertRule("KaizenQueueBacklog", Gauge(Selector(QUEUE_DEPTH), ("queue",), "max"), ">", m.queue_depth,
                  m.latency_for_s, "warning", "{labels}: {value} tasks waiting (threshold {threshold})", "count"),
        AlertRule("KaizenAuditChainBroken", Gauge(Selector(AUDIT_VALID)), "<", 1, 0, "critical",
                  "the audit log failed verification: rows were edited, removed or reordered", "bool"),
        AlertRule("KaizenStoreNearRetention", Gauge(Selector(STORE_FILL), (), "max"), ">", m.store_fill_ratio,
                  m.latency_for_s, "info",
                  "the run store is {value} full; the oldest runs are being dropped (threshold {threshold})",
                  "ratio"),
    ]
    if m.token_budget is not None:
        rules.append(AlertRule("KaizenTokenBudgetExceeded", Increase(Selector(TOKENS), m.budget_period_s), ">",
                               m.token_budget, 0, "warning",
                               "{labels}: {value} used this period (budget {threshold})", "tokens"))
    if m.cost_budget_usd is not None:
        rules.append(AlertRule("KaizenCostBudgetExceeded", Increase(Selector(COST), m.budget_period_s), ">",
                               m.cost_budget_usd, 0, "critical",
                               "{labels}: {value} spent this period (budget {threshold})", "usd"))
    names = [r.name for r in rules]
    for name in m.disabled_rules:
        if name not in names:
            raise ConfigError(f"monitoring.disabled_rules: no rule named {name!r}{did_you_mean(name, names)}; "
                              f"rules: {names}", path="monitoring.disabled_rules", value=name)
    return [r for r in rules if r.name not in m.disabled_rules]


def _monitoring_section(config: Any) -> Any:
    if config is None:
        from kaizen_lab.config import load_config

        config = load_config()
    return getattr(config, "monitoring", config)
