"""The same rules alert in process and in a real Prometheus scraping a served agent, through a real Alertmanager.

A served agent is driven into errors and then into slow answers; each fault makes the same alert fire in the
in-process evaluator, in Prometheus (rules exported by ``kaizen-lab monitoring export`` and checked by
``promtool``), reach a webhook receiver directly (signed) and through Alertmanager, and resolve once the fault stops.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.monitoring.conftest import (
    WebhookReceiver,
    alertmanager,
    need,
    prometheus,
    prometheus_alerts,
    wait_until,
)

pytestmark = pytest.mark.slow

SECRET_ENV = "KAIZEN_TEST_ALERT_SECRET"


def _firing_in_prometheus(base: str, name: str) -> bool:
    return any(a["labels"].get("alertname") == name and a["state"] == "firing" for a in prometheus_alerts(base))


class Traffic:
    """Calls the served agent from a thread every ``interval`` seconds until stopped."""

    def __init__(self, url: str, key: str, interval: float = 0.1) -> None:
        self.url, self.key, self.interval = url, key, interval
        self.codes: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(headers={"authorization": f"Bearer {self.key}"}, timeout=10) as client:
            while not self._stop.is_set():
                self.codes.append(client.post(self.url, json={"inputs": {"question": "status?"}}).status_code)
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_errors_and_slow_calls_alert_in_process_and_in_prometheus(tmp_path: Path, receiver: WebhookReceiver,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import create_multi_agent_service
    from kaizen_lab.models import FunctionModel
    from kaizen_lab.monitoring import verify_signature
    from kaizen_lab.security import KaizenSecurityManager

    need("prometheus", "prometheus")
    need("prometheus-alertmanager", "prometheus-alertmanager")
    monkeypatch.setenv(SECRET_ENV, "s" * 40)
    mode = {"now": "ok"}

    def backend(messages: Any, info: Any) -> dict[str, str]:
        if mode["now"] == "fail":
            raise RuntimeError("the backend is down")
        if mode["now"] == "slow":
            time.sleep(0.35)
        return {"answer": "all good"}

    config = {"monitoring": {"evaluation_interval_s": 0.5, "window_s": 8, "error_rate": 0.3, "error_rate_for_s": 1,
                             "latency_p95_s": 0.25, "latency_for_s": 1,
                             "webhooks": [{"url": f"{receiver.url}/direct", "secret_env": SECRET_ENV,
                                           "max_retries": 3}]},
              "tracing": {"store_path": str(tmp_path / "traces.db")}}
    security = KaizenSecurityManager({"rbac_enabled": True, "auth": {"enabled": True}}, jwt_secret="j" * 40)
    admin = security.create_api_key("ops", roles=["admin"])
    scraper = security.create_api_key("prometheus", roles=["viewer"])
    agent = Agent("qa", "question: str -> answer: str", model=FunctionModel(backend))
    deployment = create_multi_agent_service([agent], ["api"], auth=security, monitoring=config)
    assert deployment.monitoring is not None and deployment.monitoring.alert_manager.running
    host_port = deployment.api_endpoint.split("//", 1)[1]

    # the exported rules are what Prometheus evaluates; promtool accepts them
    out = tmp_path / "export"
    token = tmp_path / "token"
    token.write_text(scraper)
    exported = subprocess.run([sys.executable, "-m", "kaizen_lab.cli", "monitoring", "export", "-o", str(out),
                               "--config", _write_yaml(tmp_path / "kaizen.yaml", config)],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    rules_file = out / "kaizen-alerts.rules.yml"
    checked = subprocess.run([need("promtool", "prometheus"), "check", "rules", str(rules_file)],
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 9 rules found" in checked.stdout, checked.stdout + checked.stderr

    from kaizen_lab.monitoring import prometheus_config

    traffic: Traffic | None = None
    try:
        with alertmanager(tmp_path, f"{receiver.url}/am") as am:
            prom_config = prometheus_config(host_port, rule_files=[str(rules_file)], bearer_token_file=str(token),
                                            alertmanager=am, scrape_interval_s=1, evaluation_interval_s=1)
            with prometheus(tmp_path, prom_config) as prom:
                wait_until(lambda: _target_up(prom), 30, "Prometheus to scrape the deployment")
                traffic = Traffic(deployment.url_for("qa"), admin)
                time.sleep(2)  # healthy traffic first
                assert not deployment.monitoring.alerts()

                # fault 1: errors
                mode["now"] = "fail"
                name = "KaizenAgentErrorRateHigh"
                wait_until(lambda: any(a.rule == name for a in deployment.monitoring.alerts("firing")), 30,
                           "the in-process error-rate alert")
                wait_until(lambda: _firing_in_prometheus(prom, name), 45, "Prometheus's error-rate alert")
                wait_until(lambda: receiver.seen("/direct", name, "firing"), 30, "the direct webhook")
                wait_until(lambda: receiver.seen("/am", name, "firing"), 45, "Alertmanager's webhook")
                assert 500 in traffic.codes
                direct = [r for r in receiver.requests if r["path"] == "/direct"]
                assert all(verify_signature("s" * 40, r["headers"].get("X-Kaizen-Signature"), r["body"])
                           for r in direct)
                in_process = next(a for a in deployment.monitoring.alerts("firing") if a.rule == name)
                in_prom = next(a for a in prometheus_alerts(prom) if a["labels"]["alertname"] == name)
                assert dict(in_process.labels) == {"agent": "qa"} and in_prom["labels"]["agent"] == "qa"

                # fault 2: slow answers (the errors stop)
                mode["now"] = "slow"
                slow = "KaizenAgentLatencyP95High"
                wait_until(lambda: any(a.rule == slow for a in deployment.monitoring.alerts("firing")), 30,
                           "the in-process latency alert")
                wait_until(lambda: _firing_in_prometheus(prom, slow), 45, "Prometheus's latency alert")
                wait_until(lambda: receiver.seen("/am", slow, "firing"), 45, "Alertmanager's latency webhook")

                # the faults stop: everything resolves, in both places and at both receivers
                mode["now"] = "ok"
                for rule in (name, slow):
                    wait_until(lambda r=rule: receiver.seen("/direct", r, "resolved"), 45, f"{rule} resolved (direct)")
                    wait_until(lambda r=rule: not _firing_in_prometheus(prom, r), 45, f"{rule} resolved (Prometheus)")
                    wait_until(lambda r=rule: receiver.seen("/am", r, "resolved"), 45, f"{rule} resolved (Alertmanager)")
                assert not deployment.monitoring.alerts("firing")
                history = httpx.get(f"{deployment.api_endpoint}/alerts",
                                    headers={"authorization": f"Bearer {scraper}"}).json()["history"]
                assert {(h["rule"], h["state"]) for h in history} >= {(name, "firing"), (name, "resolved"),
                                                                     (slow, "firing"), (slow, "resolved")}
    finally:
        if traffic is not None:
            traffic.stop()
        deployment.stop()
        security.close()


def _target_up(prom: str) -> bool:
    targets = httpx.get(f"{prom}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return any(t["health"] == "up" for t in targets)


def _write_yaml(path: Path, data: dict[str, Any]) -> str:
    import yaml

    path.write_text(yaml.safe_dump(data))
    return str(path)
