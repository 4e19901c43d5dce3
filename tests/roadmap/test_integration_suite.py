"""The roadmap's own integration tests, as written there, with ``parameters=`` where it misuses Kailash
(``LocalRuntime.execute``'s second positional parameter is ``task_manager``) and with assertions that check
what each example means rather than only that something came back."""

from __future__ import annotations

import httpx
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab import FunctionModel, KaizenNexusIntegration

from .conftest import question_of


class TestCoreSdkIntegration:
    def test_workflow_builder_compatibility(self, kaizen) -> None:  # noqa: ANN001
        agent = kaizen.create_agent("test_agent")
        workflow = WorkflowBuilder()
        node_id = workflow.add_node_instance(agent.to_workflow_node("agent_step"))
        runtime = LocalRuntime()
        results, run_id = runtime.execute(workflow.build(), parameters={"question": "Test"})
        assert results[node_id]["answer"] == "test answer"  # the agent node ran and answered
        assert run_id is not None

    def test_signature_workflow_compilation(self, kaizen) -> None:  # noqa: ANN001
        signature = kaizen.create_signature("question: str -> answer: str")
        workflow = signature.compile_to_workflow()
        assert isinstance(workflow, WorkflowBuilder)
        runtime = LocalRuntime()
        results, run_id = runtime.execute(workflow.build(), parameters={"question": "Test"})
        assert set(results) == {"input", "model", "output"}  # each compiled step ran
        assert results["output"]["answer"] == "test answer" and run_id is not None


def remembering_model(seen: list[list[str]]) -> FunctionModel:
    """Answers in detail once an earlier turn of the conversation asked for detail."""

    def answer(messages, info):  # noqa: ANN001, ANN202
        seen.append([m.content for m in messages])
        detailed = any("detailed" in m.content.lower() for m in messages[1:-1])
        task = question_of(messages)
        return {"answer": f"A detailed answer about {task}" if detailed else f"Noted: {task}"}

    return FunctionModel(answer)


class TestDataFlowIntegration:
    def test_agent_state_persistence(self, kaizen) -> None:  # noqa: ANN001
        seen: list[list[str]] = []
        agent = kaizen.create_agent("persistent_agent", model=remembering_model(seen))
        store = agent.enable_dataflow_persistence()
        result1 = agent.execute(task="Remember: User likes detailed answers")
        result2 = agent.execute(task="Explain machine learning")
        assert "detailed" in result2.answer.lower()
        # the first call had nothing to remember; the second was sent the first exchange
        assert len(seen[0]) == 2 and "question: Remember: User likes detailed answers" in seen[1]
        assert result1.answer in seen[1][2]
        assert store.count_executions("persistent_agent") == 2

    def test_memory_only_for_named_sessions_when_asked(self, kaizen) -> None:  # noqa: ANN001
        agent = kaizen.create_agent("forgetful", model=remembering_model([]))
        agent.enable_dataflow_persistence(session=None)
        agent.execute(task="Remember: User likes detailed answers")
        assert agent.execute(task="Explain machine learning").answer == "Noted: Explain machine learning"
        agent.execute(task="Remember: User likes detailed answers", session="s1")
        assert "detailed" in agent.execute(task="Explain machine learning", session="s1").answer

    def test_memory_survives_a_restart(self, kaizen) -> None:  # noqa: ANN001
        from kaizen_lab import Kaizen
        from kaizen_lab.integrations.dataflow import _close_all

        first = kaizen.create_agent("restarted", model=remembering_model([]))
        first.enable_dataflow_persistence()
        first.execute(task="Remember: User likes detailed answers")
        _close_all()  # as if the process ended: the store is closed, only the database file remains
        seen: list[list[str]] = []
        again = Kaizen(default_model="test").create_agent("restarted", model=remembering_model(seen))
        again.enable_dataflow_persistence()
        assert "detailed" in again.execute(task="Explain machine learning").answer.lower()
        assert any("User likes detailed answers" in text for text in seen[0])


class TestNexusIntegration:
    def test_multi_channel_deployment(self, kaizen) -> None:  # noqa: ANN001
        agent = kaizen.create_agent("deployment_agent")
        nexus = KaizenNexusIntegration(kaizen)
        deployment = nexus.deploy_agent(agent, channels=["api", "cli", "mcp"])
        try:
            assert deployment.api_endpoint is not None
            assert deployment.cli_command is not None
            assert deployment.mcp_server is not None
            # operational, not only named: each answers
            auth = {"Authorization": f"Bearer {deployment.api_key}"}
            health = httpx.get(deployment.api_endpoint + "/health", headers=auth, timeout=30)
            assert health.json()["agents"] == ["deployment_agent"]
            ran = httpx.post(deployment.url_for("deployment_agent"), json={"inputs": {"question": "q"}},
                             headers=auth, timeout=30)
            assert ran.status_code == 200 and "test answer" in ran.text
            mcp = httpx.post(deployment.mcp_server.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                             headers={"Accept": "application/json, text/event-stream"}, timeout=30)
            assert mcp.status_code == 401  # served, and closed to callers without credentials
        finally:
            deployment.stop()
