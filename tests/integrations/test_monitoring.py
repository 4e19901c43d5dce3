"""``ProductionMonitoring``: what it sets up answers truthfully, and alerting is reported as missing."""

from __future__ import annotations

from pathlib import Path

from kaizen_lab.agents import Agent
from kaizen_lab.integrations.monitoring import ALERTING_NOT_SET_UP, ProductionMonitoring


def test_setup_records_runs_in_the_configured_store(tmp_path: Path) -> None:
    store = tmp_path / "traces.db"
    setup = ProductionMonitoring({"tracing": {"store_path": str(store)}}).setup_production_monitoring()
    try:
        agent = Agent("watched", "q -> a", model="test")
        agent.execute(q="x")
        assert setup.performance().runs == 1 and setup.performance("watched").model_calls == 1
        assert setup.readiness() == (True, "the run store answered (1 runs)")
        assert store.exists()
    finally:
        setup.stop()
    ready, reason = setup.readiness()  # the store is closed now: the probe says so instead of passing
    assert not ready and reason.startswith("the run store failed a query")


def test_in_memory_tracing_and_the_missing_alerting_are_reported() -> None:
    with ProductionMonitoring({"tracing": {"in_memory": True}}, store=False).setup_production_monitoring() as setup:
        assert setup.readiness() == (True, "traces are kept in memory only (no store to check)")
        shown = setup._repr_mimebundle_()
        assert "alerting_rules" in shown["text/plain"] and ALERTING_NOT_SET_UP in shown["text/plain"]
        assert "—" in shown["text/html"]  # the alerting row is not ticked
