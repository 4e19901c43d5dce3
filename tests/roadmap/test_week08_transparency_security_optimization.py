"""Weeks 8-10: the transparency interface, the security manager, and the auto-optimization engine."""

from __future__ import annotations

from pathlib import Path

from kaizen_lab import AutoOptimizationEngine, FunctionModel, Kaizen, KaizenSecurityManager, SecurityConfig

from .conftest import question_of


def test_transparency_interface_sees_agent_runs_and_their_steps(kaizen) -> None:  # noqa: ANN001
    monitor = kaizen.get_transparency_interface(store=":memory:")
    assert kaizen.get_transparency_interface() is monitor  # one per Kaizen
    monitor.start_monitoring()
    agent = kaizen.create_agent("observed")
    result = agent.execute(question="why?")
    monitor.stop_monitoring()
    data = monitor.get_agent_transparency("observed")
    assert [r["run_id"] for r in data.execution_history] == [result.run_id]
    assert data.performance_metrics.runs == 1 and data.performance_metrics.model_calls == 1
    assert data.decision_trail  # the model's answer and the steps leading to it
    visibility = monitor.get_workflow_visibility(result.run_id)
    steps = {n["node_id"] for n in visibility.node_performance}
    assert {"validate_inputs", "model", "validate_outputs"} <= steps


def test_security_manager_authenticates_authorizes_and_audits(tmp_path: Path) -> None:
    audit = tmp_path / "audit.db"
    config = SecurityConfig(audit_logging=True, audit_path=str(audit), rbac_enabled=True)
    manager = KaizenSecurityManager(config)
    try:
        key = manager.create_api_key("olga", roles=["operator"])
        user = manager.authenticate_user({"api_key": key})
        assert user.ok and user.principal == "olga"
        assert not manager.authenticate_user({"api_key": key + "x"}).ok
        assert manager.authorize_operation(user, "execute", "agent/qa")
        assert not manager.authorize_operation(user, "delete", "agent/qa")  # operators may not delete
        manager.log_operation("olga", "execute", "agent/qa", {"status": "ok"})
        logged = [(r.user_id, r.operation, r.resource) for r in manager.audit.records()]
        assert ("olga", "execute", "agent/qa") in logged and manager.audit.verify()
    finally:
        manager.close()


def test_kaizen_initializes_security_from_its_config(tmp_path: Path) -> None:
    kaizen = Kaizen({"default_model": "test",
                     "security_config": {"audit_logging": True, "audit_path": str(tmp_path / "a.db")}})
    try:
        assert kaizen.security_manager is kaizen.security and kaizen.security_config.audit_logging
        kaizen.create_agent("audited").execute(question="q")
        operations = [(r.operation, r.resource) for r in kaizen.security_manager.audit.records()]
        assert ("execute", "agent/audited") in operations  # the run reached the audit trail
    finally:
        kaizen.close()
        kaizen.security_manager.close()


def test_auto_optimization_engine_plans_and_applies_caching(kaizen) -> None:  # noqa: ANN001
    agent = kaizen.create_agent("repeat", model=FunctionModel(lambda m, i: {"answer": question_of(m).upper()}))
    performance_data = [agent.execute(question=q) for q in ["a", "b", "a", "a", "b", "c"]]
    engine = AutoOptimizationEngine(kaizen)  # the roadmap passes a config; the engine takes the agents to tune
    assert list(engine.agents) == ["repeat"]
    plan = engine.optimize_framework(performance_data)
    assert [s["optimization"] for s in plan.describe()] == ["caching"]
    workload = [("repeat", {"question": q}) for q in ["a", "b", "a", "a", "b", "c"]]
    results = engine.apply_optimizations(plan, workload)
    assert results.before.model_calls == 6 and results.after.model_calls == 3 and not results.errors
