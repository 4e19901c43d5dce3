"""What every pattern shares: guarded agent calls (timeout, circuit breaker, deadline) and pattern runs.

A pattern run is a run of its own (``RunStarted``/``RunFinished`` with ``agent_id="pattern:<name>"``); each
agent run inside it carries ``parent_run_id`` so traces and panels nest them. A failing or slow agent never
deadlocks a pattern: each call has a timeout, the whole pattern a deadline, and an agent that keeps failing is
dropped with the reason recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab import events as ev
from kaizen_lab.errors import AgentRunError, KaizenError, KaizenTimeoutError, UserError

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["AgentFailure", "CircuitBreaker", "PatternError", "PatternRun", "guarded_run", "require_distinct_ids"]


def require_distinct_ids(ids: list[str], what: str) -> None:
    """Agents of one pattern need distinct ids (their runs, nodes and votes are keyed by them)."""
    if len(set(ids)) != len(ids):
        raise UserError(f"{what} need distinct agent ids, got {ids}")


class PatternError(AgentRunError):
    """A pattern could not reach a result; ``partial`` holds what it had (transcript, votes, step results)."""


@dataclass(frozen=True, slots=True)
class AgentFailure:
    """An agent call that failed inside a pattern, with why."""

    agent_id: str
    error_type: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"agent_id": self.agent_id, "error_type": self.error_type, "message": self.message}


@dataclass
class CircuitBreaker:
    """Drop an agent after ``max_failures`` consecutive failures; remember why."""

    max_failures: int = 2
    failures: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def allowed(self, agent_id: str) -> bool:
        return agent_id not in self.dropped

    def success(self, agent_id: str) -> None:
        self.failures[agent_id] = 0

    def failure(self, agent_id: str, reason: str) -> None:
        count = self.failures.get(agent_id, 0) + 1
        self.failures[agent_id] = count
        if count >= self.max_failures:
            self.dropped[agent_id] = f"dropped after {count} consecutive failures; last: {reason}"


class PatternRun:
    """Run id, deadline and events of one pattern execution."""

    def __init__(self, name: str, inputs: Mapping[str, Any], *, deadline: float | None = None) -> None:
        self.name = name
        self.run_id = ev.new_id("pattern")
        self.t0 = time.perf_counter()
        self.deadline = None if deadline is None else time.monotonic() + deadline
        self.deadline_s = deadline
        ev.record(ev.RunStarted(run_id=self.run_id, agent_id=f"pattern:{name}", inputs=dict(inputs)))

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def check_deadline(self, partial: Any) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise KaizenTimeoutError(f"pattern {self.name!r} passed its deadline of {self.deadline_s}s; "
                                     "raise deadline= or lower rounds/agents", seconds=self.deadline_s,
                                     partial=partial)

    def finish(self, outputs: Mapping[str, Any], error: BaseException | None = None) -> float:
        ms = (time.perf_counter() - self.t0) * 1000
        ev.record(ev.RunFinished(run_id=self.run_id, agent_id=f"pattern:{self.name}",
                                 status="error" if error else "ok", outputs=dict(outputs), duration_ms=ms,
                                 error=str(error) if error else None,
                                 error_type=type(error).__name__ if error else None))
        return ms


async def guarded_run(agent: Agent, inputs: Mapping[str, Any], run: PatternRun, *, timeout: float | None,
                      breaker: CircuitBreaker | None = None) -> ExecutionResult | AgentFailure:
    """Run ``agent`` within its timeout and the pattern's deadline; failures come back as ``AgentFailure``."""
    if breaker is not None and not breaker.allowed(agent.agent_id):
        return AgentFailure(agent.agent_id, "CircuitOpen", breaker.dropped[agent.agent_id])
    limit = timeout
    left = run.remaining()
    if left is not None:
        limit = left if limit is None else min(limit, left)
    try:
        coro = agent.arun(inputs, parent_run_id=run.run_id)
        result = await (asyncio.wait_for(coro, max(limit, 0.0)) if limit is not None else coro)
    except TimeoutError:
        failure = AgentFailure(agent.agent_id, "KaizenTimeoutError", f"no answer within {limit:.3g}s")
    except UserError:
        raise  # a wiring mistake (wrong field names) is the developer's to fix, not a flaky agent
    except KaizenError as exc:
        failure = AgentFailure(agent.agent_id, type(exc).__name__, str(exc).splitlines()[0])
    else:
        if breaker is not None:
            breaker.success(agent.agent_id)
        return result
    if breaker is not None:
        breaker.failure(agent.agent_id, failure.message)
    return failure
