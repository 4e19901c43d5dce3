"""Production monitoring and alerting: rules over the served metrics, evaluated here and exportable to Prometheus.

- ``rules``: ``AlertRule`` and the expression tree that prints PromQL and evaluates the same thing in process;
  ``default_rules(config)`` (error rate, p95 latency, retries, timeouts, budgets, MCP, workers, audit, store).
- ``engine``: ``AlertEvaluator`` (pending → firing → resolved, ``for:``, deduplication, silences).
- ``notify``: signed webhooks in Alertmanager's format, retried with backoff; ``AlertLog`` history.
- ``export``: Prometheus rule files, a scrape config and a Grafana dashboard (``kaizen-lab monitoring export``).
- ``production``: ``ProductionMonitoring``, which ties these to a deployment, this process, or a remote URL.
"""

from __future__ import annotations

from kaizen_lab.monitoring.engine import Alert, AlertEvaluator, Silence
from kaizen_lab.monitoring.export import grafana_dashboard, prometheus_config, prometheus_rules, write_export
from kaizen_lab.monitoring.history import MetricHistory
from kaizen_lab.monitoring.notify import AlertLog, WebhookNotifier, verify_signature
from kaizen_lab.monitoring.production import ProductionMonitoring
from kaizen_lab.monitoring.rules import AlertRule, default_rules

__all__ = [
    "Alert", "AlertEvaluator", "AlertLog", "AlertRule", "MetricHistory", "ProductionMonitoring", "Silence",
    "WebhookNotifier", "default_rules", "grafana_dashboard", "prometheus_config", "prometheus_rules",
    "verify_signature", "write_export",
]
