"""Monitoring wired in: ``/alerts`` behind auth, readiness, this process's runs, budgets and the live dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.models import FunctionModel


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    from kaizen_lab.integrations.nexus import create_multi_agent_service
    from kaizen_lab.security import KaizenSecurityManager

    def broken(messages: Any, info: Any) -> dict[str, str]:
        raise RuntimeError("down")

    security = KaizenSecurityManager({"rbac_enabled": True, "auth": {"enabled": True}}, jwt_secret="j" * 40)
    keys = {role: security.create_api_key(role, roles=[role]) for role in ("admin", "operator", "viewer")}
    agent = Agent("qa", "question: str -> answer: str", model=FunctionModel(broken))
    config = {"monitoring": {"evaluation_interval_s": 3600, "error_rate_for_s": 0},
              "tracing": {"store_path": str(tmp_path / "traces.db")}}
    deployment = create_multi_agent_service([agent], ["api"], auth=security, monitoring=config)
    deployment.keys = keys
    yield deployment
    deployment.stop()
    security.close()


def _get(deployment: Any, role: str | None, path: str = "/alerts") -> httpx.Response:
    headers = {"authorization": f"Bearer {deployment.keys[role]}"} if role else {}
    return httpx.get(deployment.api_endpoint + path, headers=headers)


def test_alerts_are_listed_behind_auth_and_silenced_by_admins(served: Any) -> None:
    assert _get(served, None).status_code == 401
    for _ in range(2):
        httpx.post(served.url_for("qa"), json={"inputs": {"question": "x"}},
                   headers={"authorization": f"Bearer {served.keys['operator']}"})
    served.monitoring.evaluate()
    body = _get(served, "viewer").json()
    (alert,) = [a for a in body["alerts"] if a["rule"] == "KaizenAgentErrorRateHigh"]
    assert alert["state"] == "firing" and alert["labels"]["agent"] == "qa" and alert["value"] == 1.0
    assert {r["name"] for r in body["rules"]} >= {"KaizenAgentErrorRateHigh", "KaizenAgentLatencyP95High"}
    silence = {"matchers": {"alertname": "KaizenAgentErrorRateHigh"}, "duration_s": 600, "comment": "known"}
    url = served.api_endpoint + "/alerts/silences"
    assert httpx.post(url, json=silence, headers={"authorization": f"Bearer {served.keys['operator']}"}
                      ).status_code == 403
    created = httpx.post(url, json=silence, headers={"authorization": f"Bearer {served.keys['admin']}"})
    assert created.status_code == 201 and created.json()["comment"] == "known"
    bad = httpx.post(url, json={"matchers": {}}, headers={"authorization": f"Bearer {served.keys['admin']}"})
    assert bad.status_code == 422
    assert _get(served, "viewer").json()["alerts"][0]["silenced"] is True


def test_health_probes_report_in_metrics(served: Any) -> None:
    text = _get(served, "viewer", "/metrics").text
    assert "kaizen_store_retention_fill_ratio 0.0" in text
    assert 'kaizen_agent_runs_total{agent="qa",channel="api",status="error"} 0.0' in text  # ready at zero


def test_monitoring_can_be_turned_off(tmp_path: Path) -> None:
    from kaizen_lab.integrations.nexus import create_multi_agent_service

    agent = Agent("qa", "question: str -> answer: str", model="test")
    deployment = create_multi_agent_service([agent], ["api"], monitoring=False)
    try:
        assert deployment.monitoring is None
        response = httpx.get(deployment.api_endpoint + "/alerts",
                             headers={"authorization": f"Bearer {deployment.api_key}"})
        assert response.status_code != 200  # no alert endpoint without monitoring
    finally:
        deployment.stop()


def test_readiness_reports_whether_alerting_is_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kaizen_lab.config import load_config

    monkeypatch.chdir(tmp_path)  # the other readiness checks write the default audit log and store here
    from kaizen_lab.integrations.production import ProductionDeploymentManager

    agent = Agent("qa", "question: str -> answer: str", model="test")
    report = ProductionDeploymentManager([agent], config=load_config({})).validate_production_readiness()
    assert not report["alerting_configured"].ok and "monitoring.webhooks" in report["alerting_configured"].reason
    monkeypatch.setenv("HOOK_SECRET", "h" * 40)
    config = load_config({"monitoring": {"webhooks": [{"url": "http://127.0.0.1:9/hook",
                                                       "secret_env": "HOOK_SECRET"}]}})
    report = ProductionDeploymentManager([agent], config=config).validate_production_readiness()
    assert report["alerting_configured"].ok and "http://127.0.0.1:9/hook" in report["alerting_configured"].reason


def test_token_budget_alerts_from_real_token_counts_in_this_process() -> None:
    from kaizen_lab.monitoring import ProductionMonitoring

    clock = Clock()
    monitoring = ProductionMonitoring({"monitoring": {"token_budget": 300, "budget_period_s": 3600},
                                       "tracing": {"in_memory": True}}, clock=clock)
    monitoring.setup_production_monitoring(start=False)
    agent = Agent("writer", "topic: str -> text: str", model="test")
    try:
        used = 0
        while used <= 300:
            result = agent.execute(topic="monitoring")
            used += result.metadata.input_tokens + result.metadata.output_tokens
            clock.now += 1
            monitoring.evaluate()
            if used <= 300:
                assert not monitoring.alerts("firing")
        (alert,) = monitoring.alerts("firing")
        assert alert.rule == "KaizenTokenBudgetExceeded" and alert.value == used
        assert dict(alert.labels) == {"agent": "writer"}
        clock.now += 4000  # a new budget period
        agent.execute(topic="again")
        monitoring.evaluate()
        assert not monitoring.alerts("firing")
        assert monitoring.alert_manager.resolved()[-1].rule == "KaizenTokenBudgetExceeded"
    finally:
        monitoring.stop()


def test_kernel_metrics_count_runs_errors_retries_and_timeouts() -> None:
    from kaizen_lab.monitoring.metrics import KernelMetrics

    kernel = KernelMetrics().start()
    try:
        calls = {"n": 0}

        def flaky(messages: Any, info: Any) -> Any:
            calls["n"] += 1
            return "not json" if calls["n"] == 1 else {"answer": "ok", "score": 1}

        result = Agent("qa", "question: str -> answer: str, score: int", model=FunctionModel(flaky)).execute(
            question="x")
        assert result.metadata.retries == 1
        slow = Agent("slow", "question: str -> answer: str", model=FunctionModel(_sleepy), timeout=0.05)
        with pytest.raises(Exception, match="(?i)timed out|timeout"):
            slow.execute(question="x")
    finally:
        kernel.stop()
    text = kernel.metrics.render().decode()
    assert 'kaizen_agent_runs_total{agent="qa",channel="notebook",status="ok"} 1.0' in text
    assert 'kaizen_agent_retries_total{agent="qa"} 1.0' in text
    assert 'kaizen_agent_timeouts_total{agent="slow"} 1.0' in text
    assert 'kaizen_agent_runs_total{agent="slow",channel="notebook",status="error"} 1.0' in text


async def _sleepy(messages: Any, info: Any) -> dict[str, str]:
    import asyncio

    await asyncio.sleep(1)
    return {"answer": "late"}


def test_the_dashboard_updates_from_live_metrics() -> None:
    pytest.importorskip("ipywidgets")
    from kaizen_lab.monitoring import ProductionMonitoring

    clock = Clock()
    monitoring = ProductionMonitoring({"tracing": {"in_memory": True},
                                       "monitoring": {"error_rate_for_s": 0}}, clock=clock)
    monitoring.setup_production_monitoring(start=False)
    board = monitoring.dashboard(window_s=600)
    try:
        assert "no samples yet" in board._repr_mimebundle_()["text/plain"]
        trace_before = board.figure.data[0].y
        agent = Agent("qa", "question: str -> answer: str", model="test")
        for _ in range(2):
            for _ in range(5):
                agent.execute(question="x")
            clock.now += 5
            monitoring.evaluate()
        assert board.updates == 2
        requests = board.figure.data[0].y
        assert requests != trace_before and requests[-1] == pytest.approx(1.0)  # 5 runs in 5 s
        assert board.figure.data[2].y[-1] is not None  # a p95 latency
        failing = Agent("bad", "question: str -> answer: str", model=FunctionModel(_fail))
        with pytest.raises(Exception, match="boom"):
            failing.execute(question="x")
        clock.now += 5
        monitoring.evaluate()
        assert "KaizenAgentErrorRateHigh" in board.alerts.value
        assert "KaizenAgentErrorRateHigh" in board.figure.data[-1].cells.values[0]
        bundle = board._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle and "FIRING" in bundle["text/plain"]
    finally:
        board.close()
        monitoring.stop()


def _fail(messages: Any, info: Any) -> dict[str, str]:
    raise RuntimeError("boom")
