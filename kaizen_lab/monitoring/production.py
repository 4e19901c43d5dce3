"""``ProductionMonitoring``: metrics, health probes, alert rules, notifications and a dashboard, wired together.

For a deployment (``deploy_agent``, ``kaizen-lab serve``) it watches the deployment's own ``/metrics`` registry;
in a notebook or script with no server it watches this process's runs (``KernelMetrics``); with ``url=`` it
watches a deployment elsewhere through its ``/metrics``. ``setup_production_monitoring()`` registers the probes
and starts evaluating the rules on a background thread.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from kaizen_lab._doors import MonitoringDoors
from kaizen_lab.monitoring.engine import Alert, AlertEvaluator, Silence
from kaizen_lab.monitoring.history import MetricHistory
from kaizen_lab.monitoring.metrics import (
    HealthProbes,
    KernelMetrics,
    RemoteMetrics,
    audit_probe,
    mcp_probe,
    redis_probe,
)
from kaizen_lab.monitoring.notify import AlertLog, webhook_notifiers
from kaizen_lab.monitoring.rules import (
    AUDIT_VALID,
    MCP_UP,
    QUEUE_DEPTH,
    STORE_FILL,
    WORKERS_UP,
    AlertRule,
    default_rules,
)

__all__ = ["ProductionMonitoring"]

log = logging.getLogger("kaizen_lab.monitoring")


def _config(config: Any) -> Any:
    from kaizen_lab.config import KaizenConfig, MonitoringConfig, load_config

    if isinstance(config, MonitoringConfig):
        return KaizenConfig(monitoring=config)
    return load_config(config)


def _store_fill(path: Path, max_runs: int | None) -> Callable[[], float]:
    def probe() -> float:
        if not max_runs or not path.exists():
            return 0.0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            (count,) = db.execute("SELECT count(*) FROM runs WHERE parent_run_id IS NULL").fetchone()
        return float(count) / max_runs

    return probe


class ProductionMonitoring(MonitoringDoors):
    """Monitoring with alerting for a deployment, this process, or a remote ``/metrics``.

    Args:
        config: a ``KaizenConfig``, a ``MonitoringConfig``, a dict or a file (``load_config`` rules).
        deployment: a running ``Deployment``; its metrics registry is watched and its agents/security probed.
        url, api_key: watch a remote deployment's ``/metrics`` instead.
        rules: alert rules (default: ``default_rules(config)``).
        notifiers: extra ``(status, alerts)`` callables, beside the configured webhooks.
        alert_log: an ``AlertLog`` or a SQLite path for alert transitions (default: the run store's file,
            ``tracing.store_path``, when it exists; otherwise they are kept in memory).
        redis_url, queue_key: probe a distributed runtime's workers and queue.
        clock: the time source, injectable for tests.

    Attributes:
        metrics_collector: the metrics object being watched (``DeploymentMetrics`` or ``KernelMetrics``).
        alert_manager: the ``AlertEvaluator``.
        probes: the ``HealthProbes`` collector registered beside the metrics.
    """

    def __init__(self, config: Any = None, *, deployment: Any = None, url: str | None = None,
                 api_key: str | None = None, rules: Sequence[AlertRule] | None = None,
                 notifiers: Iterable[Callable[[str, Sequence[Alert]], None]] = (), alert_log: Any = None,
                 redis_url: str | None = None, queue_key: str = "kailash:tasks:pending",
                 clock: Callable[[], float] = time.time) -> None:
        self.config = _config(config)
        m = self.config.monitoring
        self.deployment = deployment
        self.redis_url = redis_url
        self.queue_key = queue_key
        self.probes = HealthProbes()
        self.kernel: KernelMetrics | None = None
        registries: list[Any]
        if url is not None:
            self.metrics_collector: Any = RemoteMetrics(url, api_key=api_key)
            registries = [self.metrics_collector]
        else:
            if deployment is not None:
                self.metrics_collector = deployment.metrics
                self.kernel = KernelMetrics(deployment.metrics, count_runs=False, agents=deployment.agents)
            else:
                self.kernel = KernelMetrics()
                self.metrics_collector = self.kernel.metrics
            registry = self.metrics_collector.registry
            registry.register(self.probes)
            registries = [registry]
        self.rules = list(default_rules(self.config) if rules is None else rules)
        horizon = max([m.window_s, m.budget_period_s if (m.token_budget or m.cost_budget_usd) else 0.0]) * 1.1
        self.history = MetricHistory(registries, horizon_s=horizon, fine_s=m.window_s * 1.5, clock=clock)
        if alert_log is None:  # beside the runs when the run store exists; never a new file by surprise
            path = self.config.tracing.resolved_store_path()
            alert_log = AlertLog(path if path is not None and path.exists() else ":memory:")
        elif isinstance(alert_log, str | Path):
            alert_log = AlertLog(alert_log)
        self.alert_log = alert_log
        self.webhooks = webhook_notifiers(m.webhooks)
        self.alert_manager = AlertEvaluator(self.rules, self.history, notifiers=[*self.webhooks, *notifiers],
                                            log_store=alert_log, repeat_interval_s=m.repeat_interval_s, clock=clock)

    # ------------------------------------------------------------------------------------------ setup

    def setup_production_monitoring(self, *, start: bool = True) -> ProductionMonitoring:
        """Register the health probes, follow this process's runs when no deployment is given, and start
        evaluating the alert rules every ``monitoring.evaluation_interval_s`` (``start=False``: call
        ``evaluate()`` yourself)."""
        if self.deployment is not None:
            agents = list(self.deployment.agents.values())
            self.probes.add(MCP_UP, "1 when an MCP server the agents use answers tools/list", ("server",),
                            mcp_probe(agents))
            security = getattr(self.deployment, "security", None)
            if security is not None and getattr(security, "audit_enabled", False):
                self.probes.add(AUDIT_VALID, "1 when the audit chain verifies", (), audit_probe(security))
        if self.redis_url:
            workers, depth = redis_probe(self.redis_url, self.queue_key, "kailash:worker:heartbeat:*")
            self.probes.add(WORKERS_UP, "distributed workers with a live heartbeat", ("queue",), workers)
            self.probes.add(QUEUE_DEPTH, "tasks waiting in the distributed queue", ("queue",), depth)
        path = self.config.tracing.resolved_store_path()
        if path is not None and STORE_FILL not in self.probes:
            self.probes.add(STORE_FILL, "stored runs as a fraction of tracing.retention_runs", (),
                            _store_fill(path, self.config.tracing.retention_runs))
        if self.kernel is not None:
            self.kernel.start()
        self.alert_manager.evaluate()  # the baseline sample
        if start:
            self.alert_manager.start(self.config.monitoring.evaluation_interval_s)
        return self

    def evaluate(self, now: float | None = None) -> list[Alert]:
        """Evaluate the rules once now; returns the alerts that changed state."""
        return self.alert_manager.evaluate(now)

    def stop(self) -> None:
        """Stop evaluating, stop following runs, and finish pending webhook deliveries."""
        self.alert_manager.stop()
        if self.kernel is not None:
            self.kernel.stop()
        for hook in self.webhooks:
            hook.flush(timeout_s=5)

    def __enter__(self) -> ProductionMonitoring:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ use

    def alerts(self, state: str | None = None) -> list[Alert]:
        return self.alert_manager.alerts(state)  # type: ignore[arg-type]

    def silence(self, matchers: dict[str, str], duration_s: float, *, comment: str = "") -> Silence:
        return self.alert_manager.silence(matchers, duration_s, comment=comment)

    def export(self, out: str | Path, **options: Any) -> list[Path]:
        """Write Prometheus rules, a Prometheus config and a Grafana dashboard into ``out``."""
        from kaizen_lab.monitoring.export import write_export

        return write_export(out, config=self.config, **options)

    @property
    def alerting_configured(self) -> tuple[bool, str]:
        """(ok, reason) for the readiness report: rules evaluating and somewhere to send alerts."""
        if not self.config.monitoring.enabled:
            return False, "monitoring.enabled is false: no alert rule is evaluated"
        if not self.alert_manager.running:
            return False, "the alert evaluator is not running (setup_production_monitoring())"
        if not self.webhooks:
            return False, (f"{len(self.rules)} rules evaluated, but alerts only reach the log: add "
                           "monitoring.webhooks (e.g. an Alertmanager or chat webhook)")
        return True, f"{len(self.rules)} rules evaluated every {self.config.monitoring.evaluation_interval_s:g} s, " \
                     f"{len(self.webhooks)} webhook(s)"

    def __repr__(self) -> str:
        what = "deployment" if self.deployment is not None else ("this process" if self.kernel else "remote")
        firing = len(self.alert_manager.firing())
        return (f"ProductionMonitoring({what}, {len(self.rules)} rules, {firing} firing, "
                f"{'running' if self.alert_manager.running else 'stopped'})")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from kaizen_lab.monitoring.report import alerts_html, alerts_text

        alerts = self.alert_manager.alerts()
        return {"text/plain": repr(self) + ("\n" + alerts_text(alerts) if alerts else ""),
                "text/html": alerts_html(alerts, title=repr(self))}
