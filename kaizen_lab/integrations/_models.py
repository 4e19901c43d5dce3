"""The DataFlow models, declared on a given ``DataFlow`` instance.

This module deliberately has no ``from __future__ import annotations``: DataFlow reads the class annotations as
real types.
"""

from datetime import datetime
from typing import Any, Optional

__all__ = ["declare_models"]


def declare_models(db: Any) -> None:
    """Register ``AgentState`` and ``ExecutionRecord`` on ``db`` (11 generated nodes each)."""

    @db.model
    class AgentState:
        id: str  # the agent id (DataFlow's primary key must be called id)
        state_data: dict
        conversation_history: list
        performance_metrics: dict
        version: int = 0  # compare-and-swap counter: every write bumps it
        last_updated: datetime

    @db.model
    class ExecutionRecord:
        id: str  # the run id (execution_id)
        agent_id: str
        inputs: dict
        outputs: Optional[dict] = None  # noqa: UP045 - DataFlow maps Optional[...] to a nullable column
        performance_data: dict = {}  # noqa: RUF012
        status: str = "ok"
        error: Optional[str] = None  # noqa: UP045
        timestamp: datetime
