"""Shared fixtures: a security manager with RBAC and audit on, keys for three roles, one running deployment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Keys:
    operator: str
    viewer: str
    admin: str


@pytest.fixture(scope="module")
def security(tmp_path_factory: pytest.TempPathFactory):
    from kaizen_lab.security import KaizenSecurityManager

    audit = tmp_path_factory.mktemp("audit") / "audit.db"
    # many deliberate 401s come from 127.0.0.1 in these tests: keep the client lockout out of their way;
    # no auth.method: both API keys and JWTs are accepted
    manager = KaizenSecurityManager({"rbac_enabled": True, "audit_logging": True, "audit_path": str(audit),
                                     "auth": {"enabled": True, "max_failed_attempts": 10_000}},
                                    jwt_secret="s" * 40)
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def keys(security) -> Keys:
    return Keys(operator=security.create_api_key("olga", roles=["operator"]),
                viewer=security.create_api_key("victor", roles=["viewer"]),
                admin=security.create_api_key("ada", roles=["admin"]))


def qa_model(messages, info):
    """Upper-cases the question (found on its own line of the prompt)."""
    line = next(x for x in messages[-1].content.splitlines() if "question" in x)
    return {"answer": line.split(":", 1)[1].strip().strip('"').upper(), "confidence": 0.5}


@pytest.fixture(scope="module")
def deployment(security, keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import create_multi_agent_service
    from kaizen_lab.models import FunctionModel

    qa = Agent("qa", "question: str, detail: int = 1 -> answer: str, confidence: float",
               model=FunctionModel(qa_model))
    summarizer = Agent("summarizer", "text: str -> summary: str", model="test")
    store = Path(tmp_path_factory.mktemp("store")) / "deploy.db"
    service = create_multi_agent_service([qa, summarizer], auth=security, persistence=str(store))
    yield service
    service.stop()
