"""Production readiness: every check passes on a good setup and fails, with its reason, on a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.config import load_config
from kaizen_lab.integrations.production import ProductionDeploymentManager
from kaizen_lab.models import FunctionModel

pytestmark = pytest.mark.services

GOOD = {"security": {"rbac_enabled": True, "audit_logging": True,
                     "auth": {"enabled": True, "method": "api_key"}},
        "monitoring": {"webhooks": [{"url": "http://127.0.0.1:9/alerts", "secret_env": "ALERT_HOOK_SECRET"}]}}


def _config(tmp_path: Path, data: dict) -> object:
    data = {**data, "security": {**data.get("security", {}), "audit_path": str(tmp_path / "audit.db")}}
    return load_config(data)


def test_good_setup_passes_every_check(tmp_path: Path, fresh_postgres_url: str, redis_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_HOOK_SECRET", "a" * 40)
    (tmp_path / "kaizen.yaml").write_text("default_model: test\nmcp_integration:\n  servers:\n    remote:\n"
                                          "      url: http://127.0.0.1:9/mcp\n      token_env: REMOTE_TOKEN\n")
    agent = Agent("qa", "question -> answer", model="test")
    manager = ProductionDeploymentManager([agent], config=_config(tmp_path, GOOD), store_url=fresh_postgres_url,
                                          project_dir=tmp_path, redis_url=redis_url)
    report = manager.validate_production_readiness()
    assert report.ready, str(report)
    assert [c.name for c in report.checks] == ["auth_enabled", "rbac_enabled", "audit_enabled", "store_reachable",
                                               "migrations_current", "secrets_not_in_config_files",
                                               "model_reachable", "redis_reachable", "alerting_configured"]
    assert "hash chain verified" in report["audit_enabled"].reason
    assert "postgresql store answered" in report["store_reachable"].reason
    assert "no credentials in 1 configuration file" in report["secrets_not_in_config_files"].reason
    assert "PASS  model_reachable" in str(report)

    plan = manager.prepare_production_deployment()
    assert plan.settings["auth"] == "api_key" and plan.settings["rbac"] is True
    assert plan.settings["store"].startswith("postgresql://kaizen:***@127.0.0.1")
    assert any(step.startswith("start 2 workers: kaizen-lab worker --redis redis://127.0.0.1") for step in plan.steps)
    assert any("kaizen-lab serve module:qa" in step for step in plan.steps)
    assert not any("SQLite" in w for w in plan.warnings)


def test_bad_setup_fails_each_check_with_its_reason(tmp_path: Path) -> None:
    from tests.fixtures.services import free_port

    (tmp_path / "settings.yaml").write_text("models:\n  fast:\n    provider: openai\n"
                                            "    api_key: sk-proj-abcdefghijklmnopqrstuvwx\n")

    def down(messages, info):
        raise ConnectionError("connection refused by 127.0.0.1:9")

    agent = Agent("qa", "question -> answer", model=FunctionModel(down))
    manager = ProductionDeploymentManager([agent], config=_config(tmp_path, {}), project_dir=tmp_path,
                                          store_url=f"postgresql://u:pw@127.0.0.1:{free_port()}/db")
    report = manager.validate_production_readiness()
    assert not report.ready
    failed = {c.name: c.reason for c in report.failed}
    assert set(failed) == {"auth_enabled", "rbac_enabled", "audit_enabled", "store_reachable", "migrations_current",
                           "secrets_not_in_config_files", "model_reachable", "alerting_configured"}
    assert "security.auth.enabled is false" in failed["auth_enabled"]
    assert "rbac_enabled is false" in failed["rbac_enabled"]
    assert "audit_logging is false" in failed["audit_enabled"]
    assert "can't open the DataFlow store at postgresql://u:[REDACTED]@" in failed["store_reachable"]
    assert "settings.yaml:4" in failed["secrets_not_in_config_files"]
    assert "sk-proj" not in failed["secrets_not_in_config_files"]
    assert "connection refused" in failed["model_reachable"]
    assert "monitoring.webhooks" in failed["alerting_configured"]
    plan = manager.prepare_production_deployment()
    assert any("security.auth.enabled is false" in w for w in plan.warnings)


def test_migrations_check_names_a_missing_column(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # a store written by an older release: no 'status' column yet
        conn.execute("CREATE TABLE execution_records (id TEXT PRIMARY KEY, agent_id TEXT, inputs TEXT, outputs TEXT,"
                     " performance_data TEXT, error TEXT, timestamp TEXT)")
    from kaizen_lab.integrations.dataflow import DataFlowStore

    store = DataFlowStore.__new__(DataFlowStore)  # inspect only: opening would migrate the table
    store.url, store.backend = f"sqlite:///{db}", "sqlite"
    ok, reason = store.schema_status()
    assert not ok
    assert "execution_records.status" in reason and "agent_states.id" in reason
