"""Weeks 11-12: DataFlow models, Nexus deployment on three channels, deployment readiness and monitoring."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kaizen_lab import (
    ConfigError,
    FunctionModel,
    KaizenDataFlowIntegration,
    KaizenNexusIntegration,
    ProductionDeploymentManager,
    ProductionMonitoring,
)

from .conftest import question_of


def test_dataflow_integration_declares_the_models_agents_write(kaizen, tmp_path: Path) -> None:  # noqa: ANN001
    from dataflow import DataFlow

    db = DataFlow(f"sqlite:///{tmp_path / 'agents.db'}", cache_enabled=False, enable_model_persistence=False,
                  migration_enabled=False)
    try:
        integration = KaizenDataFlowIntegration(kaizen, db)
        agent = kaizen.create_agent("stateful")
        AgentState = integration.create_agent_model(agent)  # noqa: N806 - a model class, as in the roadmap
        ExecutionRecord = integration.create_execution_model()  # noqa: N806
        assert AgentState.__name__ == "AgentState" and ExecutionRecord.__name__ == "ExecutionRecord"
        assert {"state_data", "conversation_history", "performance_metrics"} <= set(AgentState.__annotations__)
        result = agent.execute(question="hello")
        # the user's own DataFlow reads what the agent wrote, through the models it was given
        record = db.express_sync.read("ExecutionRecord", result.run_id)
        assert record["agent_id"] == "stateful" and record["outputs"] == {"answer": "test answer"}
        state = db.express_sync.read("AgentState", "stateful")
        assert [t["role"] for t in state["conversation_history"]] == ["user", "assistant"]
    finally:
        db.close()


def test_dataflow_integration_refuses_an_in_memory_dataflow(kaizen) -> None:  # noqa: ANN001
    from dataflow import DataFlow

    db = DataFlow(":memory:", cache_enabled=False, enable_model_persistence=False, migration_enabled=False)
    try:
        with pytest.raises(ConfigError, match="in-memory DataFlow can't be shared"):
            KaizenDataFlowIntegration(kaizen, db)
    finally:
        db.close()


def test_nexus_integration_deploys_on_api_cli_and_mcp(kaizen, capsys, monkeypatch) -> None:  # noqa: ANN001
    from nexus import Nexus

    from kaizen_lab.integrations.nexus import call_command
    from kaizen_lab.mcp import connect

    agent = kaizen.create_agent("deployment_agent",
                                model=FunctionModel(lambda m, i: {"answer": question_of(m).upper()}))
    nexus = KaizenNexusIntegration(kaizen, Nexus(enable_durability=False, auto_discovery=False,
                                                 enable_monitoring=False))
    with nexus.deploy_agent(agent, channels=["api", "cli", "mcp"]) as deployment:
        assert deployment.nexus is nexus.nexus  # the given Nexus serves the API channel
        key = deployment.api_key
        api = httpx.post(deployment.url_for("deployment_agent"), json={"inputs": {"question": "api"}},
                         headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert api.status_code == 200 and "API" in api.text
        assert "deployment_agent" in deployment.cli_command
        monkeypatch.setenv("KAIZEN_API_KEY", key)
        assert call_command([deployment.api_endpoint, "deployment_agent", "--input", "question=cli"]) == 0
        assert json.loads(capsys.readouterr().out) == {"answer": "CLI"}
        client = connect({"url": deployment.mcp_server.url, "token": key}, shared=False)
        try:
            assert client.call("deployment_agent", {"question": "mcp"}) == {"answer": "MCP"}
        finally:
            client.close()


def test_nexus_integration_refuses_a_replaying_nexus(kaizen) -> None:  # noqa: ANN001
    from nexus import Nexus

    agent = kaizen.create_agent("replayed")
    with pytest.raises(ConfigError, match="enable_durability=False"):
        KaizenNexusIntegration(kaizen, Nexus(auto_discovery=False, enable_monitoring=False)).deploy_agent(agent)


def test_production_deployment_manager_takes_the_kaizen(kaizen) -> None:  # noqa: ANN001
    kaizen.create_agent("svc")
    manager = ProductionDeploymentManager(kaizen)
    plan = manager.prepare_production_deployment()
    assert plan.agents == ["svc"] and any("kaizen-lab serve module:svc" in step for step in plan.steps)
    report = manager.validate_production_readiness()
    assert report["model_reachable"].ok and "svc (test:test" in report["model_reachable"].reason
    assert not report.ready and "security.auth.enabled is false" in report["auth_enabled"].reason


def test_production_monitoring_watches_this_processs_runs(kaizen) -> None:  # noqa: ANN001
    with ProductionMonitoring(kaizen.config) as monitoring:
        assert monitoring.setup_production_monitoring() is monitoring
        agent = kaizen.create_agent("monitored")
        agent.execute(question="one")
        agent.execute(question="two")
        metrics = monitoring.metrics_collector.render().decode()
        assert 'kaizen_agent_runs_total{agent="monitored",channel="notebook",status="ok"} 2.0' in metrics
        assert monitoring.rules and monitoring.alert_manager.running  # the alert rules are being evaluated
        assert monitoring.evaluate() == []  # two good runs: nothing fires
    assert not monitoring.alert_manager.running
