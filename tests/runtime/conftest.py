"""Small workflows to step through: a debate between two scripted debaters (a Kailash cycle)."""

from __future__ import annotations

from typing import Any

import pytest


def debater(agent_id: str, positions: list[str]) -> Any:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.models.testing import FunctionModel
    from kaizen_lab.patterns.debate import DEBATER_SIGNATURE

    def fn(messages: Any, info: Any) -> dict[str, str]:
        pos = positions[min(info.call_index, len(positions) - 1)]
        return {"argument": f"{agent_id} argues {pos}", "position": pos}

    return Agent(agent_id, DEBATER_SIGNATURE, model=FunctionModel(fn, name=agent_id))


@pytest.fixture
def debate_workflow() -> Any:
    from kaizen_lab.patterns.debate import DebatePattern

    return DebatePattern([debater("pro", ["yes"]), debater("con", ["no", "yes"])], rounds=4).build_workflow()
