"""Health probes against real parts: a Kailash worker over real Redis, a real MCP server, a tampered audit log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaizen_lab.config import load_config
from kaizen_lab.monitoring import ProductionMonitoring

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


def _fired(monitoring: ProductionMonitoring, clock: Clock) -> set[str]:
    clock.now += 1
    monitoring.probes.ttl_s = 0  # read fresh values every evaluation
    monitoring.evaluate()
    return {a.rule for a in monitoring.alerts("firing")}


def test_worker_and_queue_probes_follow_a_real_worker(clean_redis_url: str) -> None:
    clock = Clock()
    config = load_config({"tracing": {"in_memory": True},
                          "monitoring": {"health_for_s": 0, "latency_for_s": 0, "queue_depth": 3}})
    monitoring = ProductionMonitoring(config, redis_url=clean_redis_url, clock=clock)
    monitoring.setup_production_monitoring(start=False)
    assert "KaizenWorkersDown" in _fired(monitoring, clock)  # nobody is listening yet
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "worker", "--redis", clean_redis_url,
                               "--id", "probe-w1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "ready" in (worker.stdout.readline() if worker.stdout else "")
        deadline = time.monotonic() + 20
        while "KaizenWorkersDown" in _fired(monitoring, clock) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "KaizenWorkersDown" not in _fired(monitoring, clock)
        assert monitoring.alert_manager.resolved()[-1].rule == "KaizenWorkersDown"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    import redis

    client = redis.Redis.from_url(clean_redis_url)
    client.rpush("kailash:tasks:pending", *[f"task-{i}" for i in range(5)])
    client.close()
    assert {"KaizenQueueBacklog", "KaizenWorkersDown"} <= _fired(monitoring, clock)
    text = monitoring.metrics_collector.render().decode()
    assert 'kaizen_distributed_queue_depth{queue="kailash:tasks:pending"} 5.0' in text
    monitoring.stop()


def test_the_audit_probe_fires_when_the_log_is_tampered_with(tmp_path: Path) -> None:
    import sqlite3

    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import create_multi_agent_service
    from kaizen_lab.security import KaizenSecurityManager

    audit = tmp_path / "audit.db"
    security = KaizenSecurityManager({"rbac_enabled": True, "audit_logging": True, "audit_path": str(audit),
                                      "auth": {"enabled": True}}, jwt_secret="j" * 40)
    for i in range(3):
        security.log_operation("ops", "execute", f"agent/qa{i}", "success")
    clock = Clock()
    deployment = create_multi_agent_service([Agent("qa", "question: str -> answer: str", model="test")], ["api"],
                                            auth=security, monitoring=False)
    try:
        monitoring = ProductionMonitoring({"tracing": {"in_memory": True}}, deployment=deployment, clock=clock)
        monitoring.setup_production_monitoring(start=False)
        assert "KaizenAuditChainBroken" not in _fired(monitoring, clock)
        with sqlite3.connect(audit) as db:  # an attacker with write access drops the guard, then edits a row
            db.execute("DROP TRIGGER kaizen_audit_no_update")
            db.execute("UPDATE kaizen_audit SET resource = 'agent/other' WHERE seq = 2")
        assert "KaizenAuditChainBroken" in _fired(monitoring, clock)
        monitoring.stop()
    finally:
        deployment.stop()
        security.close()


def test_the_mcp_probe_fires_when_a_server_stops_answering() -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import create_multi_agent_service
    from kaizen_lab.mcp import close_all
    from kaizen_lab.mcp.server import expose

    helper = Agent("helper", "text: str -> summary: str", model="test")
    handle = expose(helper, "http")
    agent = Agent("qa", "question: str -> answer: str", model="test")
    try:
        agent.connect_to_mcp_servers({"helpers": {"url": handle.url, "token": handle.token}}, connect_timeout=2)
        deployment = create_multi_agent_service([agent], ["api"], monitoring=False)
        clock = Clock()
        monitoring = ProductionMonitoring({"tracing": {"in_memory": True}, "monitoring": {"health_for_s": 0}},
                                          deployment=deployment, clock=clock)
        try:
            monitoring.setup_production_monitoring(start=False)
            assert "KaizenMCPServerDown" not in _fired(monitoring, clock)
            assert 'kaizen_mcp_server_up{server="helpers"} 1.0' in monitoring.metrics_collector.render().decode()
            handle.stop()
            fired = _fired(monitoring, clock)
            assert "KaizenMCPServerDown" in fired
            (alert,) = [a for a in monitoring.alerts("firing") if a.rule == "KaizenMCPServerDown"]
            assert dict(alert.labels) == {"server": "helpers"}
        finally:
            monitoring.stop()
            deployment.stop()
    finally:
        handle.stop()
        close_all()
