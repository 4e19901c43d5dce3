"""Exports for the standard stack: rules accepted by promtool, a dashboard over names /metrics really serves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from kaizen_lab.cli import main
from kaizen_lab.config import load_config
from kaizen_lab.monitoring import default_rules, grafana_dashboard, prometheus_rules
from tests.monitoring.conftest import need


def test_the_cli_writes_rules_promtool_accepts(tmp_path: Path, capsys) -> None:
    config = tmp_path / "kaizen.yaml"
    config.write_text(yaml.safe_dump({"monitoring": {"token_budget": 50000, "cost_budget_usd": 3,
                                                     "error_rate": 0.1, "error_rate_for_s": 120}}))
    assert main(["monitoring", "export", "-o", str(tmp_path / "out"), "--config", str(config),
                 "--target", "127.0.0.1:8123", "--alertmanager", "127.0.0.1:9093"]) == 0
    rules_file = tmp_path / "out" / "kaizen-alerts.rules.yml"
    checked = subprocess.run([need("promtool", "prometheus"), "check", "rules", str(rules_file)],
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 11 rules found" in checked.stdout, checked.stdout + checked.stderr
    rules = {r["alert"]: r for r in yaml.safe_load(rules_file.read_text())["groups"][0]["rules"]}
    assert rules["KaizenAgentErrorRateHigh"]["for"] == "2m" and "> 0.1" in rules["KaizenAgentErrorRateHigh"]["expr"]
    assert "> 50000" in rules["KaizenTokenBudgetExceeded"]["expr"]
    config_check = subprocess.run([need("promtool", "prometheus"), "check", "config",
                                   str(tmp_path / "out" / "prometheus.yml")], capture_output=True, text=True,
                                  cwd=tmp_path / "out")
    assert config_check.returncode == 0, config_check.stdout + config_check.stderr
    assert json.loads((tmp_path / "out" / "kaizen-grafana-dashboard.json").read_text())["panels"]
    assert main(["monitoring", "rules"]) == 0
    assert "KaizenAgentLatencyP95High [warning] for 5m" in capsys.readouterr().out


def test_the_in_process_and_exported_rules_are_the_same() -> None:
    rules = default_rules(load_config({"monitoring": {"latency_p95_s": 2.5}}))
    exported = prometheus_rules(rules)["groups"][0]["rules"]
    assert [(r["alert"], r["expr"]) for r in exported] == [(r.name, r.promql()) for r in rules]


def test_the_dashboard_queries_only_metrics_the_service_exposes() -> None:
    from kaizen_lab.integrations._gateway import DeploymentMetrics

    metrics = DeploymentMetrics()
    metrics.prepare("qa", "api")
    metrics.observe_run("qa", "api", ok=True, seconds=0.1)
    metrics.observe_usage("qa", 10, 5, 0.001)
    exposed = set(re.findall(r"^(kaizen_\w+?)(?:\{| )", metrics.render().decode(), re.M))
    dashboard = grafana_dashboard()
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\b(kaizen_\w+)", target["expr"])}
    assert queried and queried <= exposed, queried - exposed
    assert {p["title"] for p in dashboard["panels"]} >= {"Requests per second", "Latency p50 / p95", "Error ratio",
                                                          "Tokens per second", "Cost per hour (USD)", "Alerts firing"}


def test_metric_names_follow_prometheus_conventions() -> None:
    from kaizen_lab.integrations._gateway import DeploymentMetrics

    text = DeploymentMetrics().render().decode()
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name, kind in families.items():
        assert re.fullmatch(r"kaizen_[a-z_]+", name), name
        if kind == "counter":
            assert not name.endswith("_total_total"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name
