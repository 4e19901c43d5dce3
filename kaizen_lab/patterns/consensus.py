"""``ConsensusPattern``: agents answer in parallel; an aggregator decides.

Criteria: ``majority`` (most votes), ``weighted`` (sum of confidences), ``unanimous`` (all agree). Votes under
``confidence_threshold`` are set aside (and reported). Ties: ``highest_confidence`` (default), ``first`` (the
earliest agent's choice among the tied) or ``none`` (no decision).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.patterns._common import (
    AgentFailure,
    CircuitBreaker,
    PatternError,
    PatternRun,
    guarded_run,
    require_distinct_ids,
)

if TYPE_CHECKING:
    from kailash.workflow.builder import WorkflowBuilder

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["ConsensusOutcome", "ConsensusPattern", "ConsensusResult", "Vote", "aggregate_votes"]

Criteria = Literal["majority", "weighted", "unanimous"]
TieBreak = Literal["highest_confidence", "first", "none"]
CRITERIA = ("majority", "weighted", "unanimous")
TIE_BREAKS = ("highest_confidence", "first", "none")


@dataclass(frozen=True, slots=True)
class Vote:
    agent_id: str
    decision: Any
    confidence: float | None = None

    @property
    def key(self) -> str:
        value = self.decision
        return value.strip().lower() if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class ConsensusOutcome:
    decision: Any
    reached: bool
    reason: str
    tally: dict[str, float]
    counted: list[str]
    set_aside: list[str]
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reached": self.reached, "reason": self.reason, "tally": self.tally,
                "counted": self.counted, "set_aside": self.set_aside, "agreement": self.agreement}


def aggregate_votes(votes: Sequence[Vote], *, criteria: str = "majority", confidence_threshold: float = 0.0,
                    tie_break: str = "highest_confidence") -> ConsensusOutcome:
    """Decide from ``votes`` (pure; used by the direct run and by the Kailash aggregator node)."""
    if criteria not in CRITERIA:
        raise UserError(f"decision_criteria {criteria!r} is not one of {CRITERIA}{did_you_mean(criteria, CRITERIA)}")
    if tie_break not in TIE_BREAKS:
        raise UserError(f"tie_break {tie_break!r} is not one of {TIE_BREAKS}{did_you_mean(tie_break, TIE_BREAKS)}")
    counted = [v for v in votes if (v.confidence if v.confidence is not None else 1.0) >= confidence_threshold]
    aside = [v.agent_id for v in votes if v not in counted]
    if not counted:
        return ConsensusOutcome(None, False, f"no vote reached the confidence threshold {confidence_threshold}",
                                {}, [], aside, 0.0)
    tally: dict[str, float] = {}
    first_value: dict[str, Any] = {}
    conf_sum: dict[str, float] = {}
    for v in counted:
        weight = (v.confidence if v.confidence is not None else 1.0) if criteria == "weighted" else 1.0
        tally[v.key] = tally.get(v.key, 0.0) + weight
        conf_sum[v.key] = conf_sum.get(v.key, 0.0) + (v.confidence if v.confidence is not None else 1.0)
        first_value.setdefault(v.key, v.decision)
    ids = [v.agent_id for v in counted]
    best = max(tally.values())
    leaders = [k for k, w in tally.items() if w == best]
    agreement = sum(1 for v in counted if v.key in leaders[:1]) / len(counted)
    if criteria == "unanimous":
        if len(tally) == 1:
            key = leaders[0]
            return ConsensusOutcome(first_value[key], True, "all counted votes agree", tally, ids, aside, 1.0)
        return ConsensusOutcome(None, False, f"no unanimity: {len(tally)} different answers", tally, ids, aside,
                                agreement)
    if len(leaders) == 1:
        key = leaders[0]
        return ConsensusOutcome(first_value[key], True, f"{criteria}: {tally[key]:g} of {sum(tally.values()):g}",
                                tally, ids, aside, agreement)
    if tie_break == "none":
        return ConsensusOutcome(None, False, f"tie between {leaders}", tally, ids, aside, agreement)
    if tie_break == "first":
        key = next(v.key for v in counted if v.key in leaders)
        return ConsensusOutcome(first_value[key], True, f"tie between {leaders} broken by the first agent's vote",
                                tally, ids, aside, agreement)
    key = max(leaders, key=lambda k: conf_sum[k])
    if list(conf_sum[k] for k in leaders).count(conf_sum[key]) > 1:
        key = next(v.key for v in counted if v.key in leaders)
        reason = f"tie between {leaders}, equal confidence: the first agent's vote decides"
    else:
        reason = f"tie between {leaders} broken by total confidence ({conf_sum[key]:g})"
    return ConsensusOutcome(first_value[key], True, reason, tally, ids, aside, agreement)


@dataclass(frozen=True)
class ConsensusResult:
    decision: Any
    reached: bool
    reason: str
    votes: list[Vote]
    tally: dict[str, float]
    agreement: float
    per_agent: dict[str, ExecutionResult]
    failures: list[AgentFailure] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    run_id: str = ""
    duration_ms: float = 0.0


class ConsensusPattern:
    """Ask every agent in parallel and aggregate their ``decision_field`` (weighted by ``confidence_field``)."""

    name = "consensus"

    def __init__(self, agents: Sequence[Agent], *, decision_field: str | None = None,
                 confidence_field: str | None = "confidence", decision_criteria: str = "majority",
                 confidence_threshold: float = 0.0, tie_break: str = "highest_confidence",
                 timeout: float | None = None, deadline: float | None = None, min_votes: int = 1,
                 max_failures: int = 2) -> None:
        if len(agents) < 2:
            raise UserError("consensus needs at least two agents")
        require_distinct_ids([a.agent_id for a in agents], "consensus agents")
        aggregate_votes([], criteria=decision_criteria, tie_break=tie_break)  # validates the options early
        self.agents = list(agents)
        self.decision_field = decision_field or agents[0].signature.output_names[0]
        for a in agents:
            if self.decision_field not in a.signature.output_names:
                raise UserError(f"agent {a.agent_id!r} has no output {self.decision_field!r}"
                                f"{did_you_mean(self.decision_field, a.signature.output_names)}; "
                                "every consensus agent must output the decision field")
        self.confidence_field = confidence_field
        self.decision_criteria = decision_criteria
        self.confidence_threshold = confidence_threshold
        self.tie_break = tie_break
        self.timeout = timeout
        self.deadline = deadline
        self.min_votes = min_votes
        self.breaker = CircuitBreaker(max_failures)

    def _vote(self, result: ExecutionResult) -> Vote:
        confidence = result.data.get(self.confidence_field) if self.confidence_field else None
        return Vote(result.metadata.agent_id, result.data[self.decision_field],
                    float(confidence) if isinstance(confidence, int | float) else None)

    async def arun(self, **inputs: Any) -> ConsensusResult:
        run = PatternRun(self.name, inputs, deadline=self.deadline)
        outcomes = await asyncio.gather(*(guarded_run(a, inputs, run, timeout=self.timeout, breaker=self.breaker)
                                          for a in self.agents))
        results = {o.metadata.agent_id: o for o in outcomes if not isinstance(o, AgentFailure)}
        failures = [o for o in outcomes if isinstance(o, AgentFailure)]
        votes = [self._vote(r) for r in results.values()]
        if len(votes) < self.min_votes:
            err = PatternError(f"consensus got {len(votes)} vote(s), fewer than min_votes={self.min_votes}; "
                               f"failures: {[f.to_dict() for f in failures]}",
                               partial={"votes": votes, "failures": failures, "per_agent": results})
            run.finish({}, err)
            raise err
        outcome = aggregate_votes(votes, criteria=self.decision_criteria,
                                  confidence_threshold=self.confidence_threshold, tie_break=self.tie_break)
        ms = run.finish(outcome.to_dict())
        return ConsensusResult(outcome.decision, outcome.reached, outcome.reason, votes, outcome.tally,
                               outcome.agreement, results, failures, outcome.set_aside, run.run_id, ms)

    def run(self, **inputs: Any) -> ConsensusResult:
        return run_sync(self.arun(**inputs))

    def to_workflow(self) -> WorkflowBuilder:
        """Agents in parallel (each an agent node), wired into a ``KaizenConsensusNode`` aggregator."""
        from kailash.workflow.builder import WorkflowBuilder

        import kaizen_lab.patterns.nodes  # noqa: F401 - registers the pattern nodes
        from kaizen_lab.runtime.nodes import agent_config

        builder = WorkflowBuilder()
        builder.add_node("KaizenConsensusNode", "aggregate", {
            "voters": len(self.agents), "agent_ids": [a.agent_id for a in self.agents],
            "decision_criteria": self.decision_criteria, "confidence_threshold": self.confidence_threshold,
            "tie_break": self.tie_break})
        for i, agent in enumerate(self.agents):
            builder.add_node("KaizenAgentNode", agent.agent_id, agent_config(agent))
            builder.add_connection(agent.agent_id, self.decision_field, "aggregate", f"decision_{i}")
            if self.confidence_field and self.confidence_field in agent.signature.output_names:
                builder.add_connection(agent.agent_id, self.confidence_field, "aggregate", f"confidence_{i}")
        return builder
