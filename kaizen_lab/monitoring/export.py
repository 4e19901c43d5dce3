"""Export the alert rules and a dashboard for the standard stack: Prometheus rules, a scrape config, Grafana JSON.

Everything is built as data and written with ``yaml.safe_dump``/``json.dumps``; label values inside PromQL are
quoted by the rule selectors, so no configuration text ever becomes part of an expression unescaped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kaizen_lab.monitoring.rules import (
    COST,
    LATENCY,
    RUNS,
    TOKENS,
    AlertRule,
    Gauge,
    Increase,
    Quantile,
    Ratio,
    default_rules,
    format_duration,
    format_value,
)

__all__ = ["grafana_dashboard", "monitoring_command", "prometheus_config", "prometheus_rules", "write_export"]

RULES_FILE = "kaizen-alerts.rules.yml"
DASHBOARD_FILE = "kaizen-grafana-dashboard.json"
PROMETHEUS_FILE = "prometheus.yml"


def _group_labels(rule: AlertRule) -> tuple[str, ...]:
    expr = rule.expression
    if isinstance(expr, Ratio):
        return expr.numerator.by
    if isinstance(expr, Increase | Quantile | Gauge):
        return expr.by
    return ()


def _annotation(rule: AlertRule) -> str:
    where = ", ".join(f"{name} {{{{ $labels.{name} }}}}" for name in _group_labels(rule)) or "all"
    value = "{{ $value | humanizePercentage }}" if rule.unit == "ratio" else "{{ $value | humanize }}"
    return (rule.summary or rule.name).format(labels=where, value=value,
                                              threshold=format_value(rule.threshold, rule.unit))


def prometheus_rules(rules: Sequence[AlertRule] | None = None, *, group: str = "kaizen-lab",
                     interval_s: float | None = None) -> dict[str, Any]:
    """A Prometheus rule file (as data) with one alerting rule per ``AlertRule``: same expression, threshold, for."""
    rules = default_rules() if rules is None else rules
    items = []
    for rule in rules:
        item: dict[str, Any] = {"alert": rule.name, "expr": rule.promql()}
        if rule.for_s:
            item["for"] = format_duration(rule.for_s)
        item["labels"] = {"severity": rule.severity, **dict(rule.extra_labels)}
        item["annotations"] = {"summary": _annotation(rule)}
        items.append(item)
    entry: dict[str, Any] = {"name": group, "rules": items}
    if interval_s:
        entry["interval"] = format_duration(interval_s)
    return {"groups": [entry]}


def prometheus_config(target: str, *, rule_files: Sequence[str] = (RULES_FILE,), metrics_path: str = "/metrics",
                      bearer_token_file: str | None = None, alertmanager: str | None = None,
                      scrape_interval_s: float = 15.0, evaluation_interval_s: float = 15.0) -> dict[str, Any]:
    """A Prometheus configuration scraping a deployment's ``/metrics`` (``target`` is ``host:port``)."""
    job: dict[str, Any] = {"job_name": "kaizen-lab", "metrics_path": metrics_path,
                           "static_configs": [{"targets": [target]}]}
    if bearer_token_file:
        job["authorization"] = {"type": "Bearer", "credentials_file": bearer_token_file}
    config: dict[str, Any] = {
        "global": {"scrape_interval": format_duration(scrape_interval_s),
                   "evaluation_interval": format_duration(evaluation_interval_s)},
        "rule_files": list(rule_files), "scrape_configs": [job]}
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def _panel(pid: int, title: str, exprs: Sequence[tuple[str, str]], unit: str, x: int, y: int,
           kind: str = "timeseries") -> dict[str, Any]:
    return {"id": pid, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + i), "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                        for i, (expr, legend) in enumerate(exprs)]}


def grafana_dashboard(rules: Sequence[AlertRule] | None = None, *, title: str = "kaizen-lab agents",
                      window_s: float = 300.0) -> dict[str, Any]:
    """A Grafana dashboard (JSON model) over the ``/metrics`` names: traffic, latency, errors, tokens, cost,
    retries and the alerts firing."""
    w = format_duration(window_s)
    rules = default_rules() if rules is None else rules
    names = "|".join(r.name for r in rules)
    panels = [
        _panel(1, "Requests per second", [(f"sum by (agent) (rate({RUNS}[{w}]))", "{{agent}}")], "reqps", 0, 0),
        _panel(2, "Latency p50 / p95", [
            (f"histogram_quantile(0.5, sum by (agent, le) (rate({LATENCY}_bucket[{w}])))", "p50 {{agent}}"),
            (f"histogram_quantile(0.95, sum by (agent, le) (rate({LATENCY}_bucket[{w}])))", "p95 {{agent}}")],
            "s", 12, 0),
        _panel(3, "Error ratio", [(f'sum by (agent) (rate({RUNS}{{status="error"}}[{w}])) / '
                                   f'sum by (agent) (rate({RUNS}{{status=~"ok|error"}}[{w}]))', "{{agent}}")],
               "percentunit", 0, 8),
        _panel(4, "Tokens per second", [(f"sum by (agent, direction) (rate({TOKENS}[{w}]))",
                                         "{{agent}} {{direction}}")], "short", 12, 8),
        _panel(5, "Cost per hour (USD)", [(f"sum by (agent) (increase({COST}[1h]))", "{{agent}}")],
               "currencyUSD", 0, 16),
        _panel(6, "Alerts firing", [(f'sum by (alertname) (ALERTS{{alertstate="firing",alertname=~"{names}"}})',
                                     "{{alertname}}")], "short", 12, 16, "stat"),
    ]
    return {"title": title, "uid": "kaizen-lab-agents", "schemaVersion": 39, "version": 1, "editable": True,
            "time": {"from": "now-1h", "to": "now"}, "refresh": "10s", "tags": ["kaizen-lab"],
            "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                     "label": "Prometheus"}]},
            "annotations": {"list": []}, "panels": panels}


def write_export(out: str | Path, *, config: Any = None, target: str = "127.0.0.1:8000",
                 bearer_token_file: str | None = None, alertmanager: str | None = None) -> list[Path]:
    """Write the rules, the dashboard and a Prometheus config into ``out``; returns the files written."""
    import yaml

    rules = default_rules(config)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    m = getattr(config, "monitoring", None)
    interval = m.evaluation_interval_s if m is not None else 15.0
    files = {
        RULES_FILE: yaml.safe_dump(prometheus_rules(rules), sort_keys=False, allow_unicode=True),
        DASHBOARD_FILE: json.dumps(grafana_dashboard(rules), indent=2),
        PROMETHEUS_FILE: yaml.safe_dump(prometheus_config(target, bearer_token_file=bearer_token_file,
                                                          alertmanager=alertmanager, evaluation_interval_s=interval),
                                        sort_keys=False),
    }
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def monitoring_command(argv: Sequence[str]) -> int:
    """``kaizen-lab monitoring export [-o DIR] [--config FILE] [--target HOST:PORT] [--alertmanager HOST:PORT]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab monitoring",
                                     description="Alert rules and dashboards for Prometheus, Alertmanager and Grafana.")
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write Prometheus alerting rules, a scrape config and a Grafana dashboard")
    export.add_argument("-o", "--out", default="monitoring", help="output folder (default: ./monitoring)")
    export.add_argument("--config", default=None, help="a kaizen-lab YAML/JSON config (monitoring thresholds)")
    export.add_argument("--target", default="127.0.0.1:8000", help="the deployment to scrape (host:port)")
    export.add_argument("--token-file", default=None, help="a file holding the API key Prometheus sends")
    export.add_argument("--alertmanager", default=None, help="Alertmanager host:port for the Prometheus config")
    sub.add_parser("rules", help="print the alert rules with their PromQL")
    args = parser.parse_args(argv)
    from kaizen_lab.config import load_config

    config = load_config(getattr(args, "config", None))
    if args.action == "rules":
        for rule in default_rules(config):
            wait = f" for {format_duration(rule.for_s)}" if rule.for_s else ""
            print(f"{rule.name} [{rule.severity}]{wait}\n    {rule.promql()}")
        return 0
    for path in write_export(args.out, config=config, target=args.target, bearer_token_file=args.token_file,
                             alertmanager=args.alertmanager):
        print(path)
    print("check the rules with: promtool check rules " + str(Path(args.out) / RULES_FILE), file=sys.stderr)
    return 0
