"""``ProductionMonitoring``: set up the monitoring that exists today, and say plainly what is not there yet.

``setup_production_monitoring()`` starts one tracer over the configured run store with a Prometheus exporter
attached, and returns a ``MonitoringSetup`` that answers for it: the metrics in the exposition format, the
performance figures per agent, liveness and readiness (the run store answers a query), and the transparency
monitor over the same tracer. Alerting is *not* set up: there are no alert rules to evaluate yet, and the setup
says so (``alert_rules`` is empty and ``alerting`` explains) instead of pretending. Serving the metrics over
HTTP is the deployment's job (``deploy_agent`` serves ``/metrics``, ``/health`` and ``/ready``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALERTING_NOT_SET_UP", "MonitoringSetup", "MonitoringStep", "ProductionMonitoring"]

ALERTING_NOT_SET_UP = ("not set up: kaizen-lab has no alert rules yet, so nothing evaluates or sends alerts; "
                       "scrape the metrics into Prometheus and alert there")


@dataclass(frozen=True)
class MonitoringStep:
    """One part of the roadmap's monitoring setup: whether it is in place, and what provides it."""

    name: str
    ready: bool
    detail: str


@dataclass
class MonitoringSetup:
    """The monitoring in place: a started tracer, its Prometheus metrics and the transparency monitor.

    Attributes:
        tracer: the ``Tracer`` recording every run in this process (into ``tracer.store``).
        exporter: the ``PrometheusExporter`` fed by the tracer (``metrics_text()`` renders it).
        monitor: a ``TransparencyMonitor`` reading the same tracer.
        steps: what was set up, one ``MonitoringStep`` per roadmap step (alerting included, not ready).
        alert_rules: the alert rules evaluated here; empty until kaizen-lab has alerting.
    """

    tracer: Any
    exporter: Any
    monitor: Any
    steps: list[MonitoringStep]
    alert_rules: list[Any] = field(default_factory=list)

    @property
    def alerting(self) -> str:
        """Why no alert fires here (there are no rules yet)."""
        return ALERTING_NOT_SET_UP

    def metrics_text(self) -> str:
        """Every run recorded so far as Prometheus metrics (text exposition format)."""
        self.tracer.flush()
        return str(self.exporter.text())

    def performance(self, agent_id: str | None = None) -> Any:
        """Latency percentiles, tokens, cost and error rate of the recorded runs (of one agent, or all)."""
        from kaizen_lab.tracing.metrics import performance_metrics

        self.tracer.flush()
        return performance_metrics(self.tracer.runs(agent_id=agent_id, roots_only=agent_id is None))

    def health(self) -> dict[str, Any]:
        """Liveness: whether the tracer is recording, and how many runs it holds."""
        return {"status": "ok" if self.tracer.active else "stopped", "recording": self.tracer.active,
                "runs": len(self.tracer.runs())}

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): the run store answers a real query."""
        store = self.tracer.store
        if store is None:
            return True, "traces are kept in memory only (no store to check)"
        try:
            self.tracer.flush()
            n = store.count_runs()
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            return False, f"the run store failed a query: {type(exc).__name__}: {exc}"
        return True, f"the run store answered ({n} runs)"

    def stop(self) -> None:
        """Stop recording, commit what was recorded and close the run store this setup opened."""
        self.tracer.close()

    def __enter__(self) -> MonitoringSetup:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = "\n".join(f"{'ok ' if s.ready else '-- '} {s.name}: {s.detail}" for s in self.steps)
        rows = "".join(f"<tr><td>{'✅' if s.ready else '—'}</td><td><b>{html.escape(s.name)}</b></td>"
                       f"<td>{html.escape(s.detail)}</td></tr>" for s in self.steps)
        return {"text/plain": f"MonitoringSetup\n{text}",
                "text/html": f"<div><b>Production monitoring</b><table>{rows}</table></div>"}


class ProductionMonitoring:
    """The roadmap's ``ProductionMonitoring(config).setup_production_monitoring()``.

    Args:
        config: a ``KaizenConfig``, a dict or path for ``load_config``, or ``None`` for the defaults (the run
            store is ``tracing.store_path``, or memory with ``tracing.in_memory``).
        store: where runs are recorded instead (a ``RunStore``, a path or ``":memory:"``).
        namespace: the metric name prefix.
    """

    def __init__(self, config: Any = None, *, store: Any = None, namespace: str = "kaizen") -> None:
        from kaizen_lab.config import KaizenConfig, load_config

        self.config = config if isinstance(config, KaizenConfig) else load_config(config)
        self.store = store
        self.namespace = namespace
        self.setup: MonitoringSetup | None = None

    def setup_production_monitoring(self) -> MonitoringSetup:
        """Start recording every run with Prometheus metrics; returns the ``MonitoringSetup`` (idempotent)."""
        if self.setup is not None:
            return self.setup
        from kaizen_lab.tracing import Tracer
        from kaizen_lab.tracing.exporters.prometheus import PrometheusExporter
        from kaizen_lab.tracing.monitor import TransparencyMonitor

        exporter = PrometheusExporter(namespace=self.namespace)
        tracer = Tracer(self.store, config=self.config, exporters=[exporter]).start()
        ns = self.namespace
        where = "memory" if tracer.store is None else repr(tracer.store)
        steps = [
            MonitoringStep("framework_metrics", True, f"{ns}_runs_total and {ns}_errors_total by agent and "
                                                      f"kind; runs recorded in {where}"),
            MonitoringStep("agent_metrics", True, f"{ns}_run_duration_seconds, {ns}_model_calls_total, "
                                                  f"{ns}_tool_calls_total"),
            MonitoringStep("performance_metrics", True, "p50/p95/p99 latency, tokens, cost and error rate per "
                                                        "agent: MonitoringSetup.performance(agent_id)"),
            MonitoringStep("business_metrics", True, f"{ns}_tokens_total and {ns}_cost_usd_total by agent and "
                                                     "model"),
            MonitoringStep("health", True, "MonitoringSetup.health() and readiness() (a real store query)"),
            MonitoringStep("alerting_rules", False, ALERTING_NOT_SET_UP),
        ]
        self.setup = MonitoringSetup(tracer, exporter, TransparencyMonitor(tracer, config=self.config), steps)
        return self.setup
