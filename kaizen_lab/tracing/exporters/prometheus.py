"""Prometheus metrics of traced runs: runs, latency, tokens, cost, errors, model and tool calls.

Uses ``prometheus_client`` with a private registry by default, so several exporters (and tests) never clash
with each other or with an application's global registry. ``text()`` is the exposition format a scraper reads.
"""

from __future__ import annotations

from typing import Any

from kaizen_lab.tracing.spans import Trace

__all__ = ["PrometheusExporter"]

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class PrometheusExporter:
    """Counters and histograms updated from each exported trace (every run in it, sub-runs included).

    Args:
        registry: a ``prometheus_client.CollectorRegistry`` (default: a new private one).
        namespace: metric name prefix.
    """

    def __init__(self, registry: Any = None, *, namespace: str = "kaizen") -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError as exc:  # pragma: no cover - prometheus_client ships with the notebook extras
            from kaizen_lab.errors import ConfigError

            raise ConfigError('Prometheus export needs prometheus_client: pip install prometheus-client') from exc
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns = self.registry, namespace
        self.runs = Counter("runs", "Finished runs", ["agent_id", "kind", "status"], namespace=ns, registry=r)
        self.latency = Histogram("run_duration_seconds", "Run wall time", ["agent_id", "kind"], namespace=ns,
                                 registry=r, buckets=_LATENCY_BUCKETS)
        self.tokens = Counter("tokens", "Model tokens", ["agent_id", "model", "direction"], namespace=ns,
                              registry=r)
        self.cost = Counter("cost_usd", "Model cost in USD (priced models only)", ["agent_id", "model"],
                            namespace=ns, registry=r)
        self.errors = Counter("errors", "Runs that ended in an error", ["agent_id", "error_type"], namespace=ns,
                              registry=r)
        self.model_calls = Counter("model_calls", "Model calls", ["model", "cache"], namespace=ns, registry=r)
        self.model_latency = Histogram("model_call_duration_seconds", "Model call time", ["model"], namespace=ns,
                                       registry=r, buckets=_LATENCY_BUCKETS)
        self.tool_calls = Counter("tool_calls", "Tool calls", ["tool", "status"], namespace=ns, registry=r)

    def export(self, trace: Trace) -> None:
        agents = {r.run_id: r.agent_id for r in trace.runs}
        for run in trace.runs:
            self.runs.labels(run.agent_id, run.kind, run.status).inc()
            if run.duration_ms is not None:
                self.latency.labels(run.agent_id, run.kind).observe(run.duration_ms / 1000)
            if run.status == "error":
                self.errors.labels(run.agent_id, run.error_type or "unknown").inc()
        for span in trace.spans:
            if span.kind == "model":
                a = span.attributes
                agent = agents.get(span.run_id, "")
                self.tokens.labels(agent, span.name, "input").inc(a.get("input_tokens", 0))
                self.tokens.labels(agent, span.name, "output").inc(a.get("output_tokens", 0))
                if a.get("cost") is not None:
                    self.cost.labels(agent, span.name).inc(a["cost"])
                self.model_calls.labels(span.name, "hit" if a.get("cache_hit") else "miss").inc()
                if span.duration_ms is not None:
                    self.model_latency.labels(span.name).observe(span.duration_ms / 1000)
            elif span.kind == "tool":
                self.tool_calls.labels(span.name, span.status).inc()

    def text(self) -> str:
        """The metrics in the Prometheus text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()
