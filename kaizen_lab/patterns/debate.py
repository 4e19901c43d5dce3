"""``DebatePattern``: debaters argue in rounds over a growing transcript; a judge (or the majority) decides.

Debaters take ``topic`` and ``transcript`` (``str`` or ``list[str]``) and output an argument and, optionally, a
``position``; when every debater holds the same position after a round, the debate has converged and stops.
Ordinary agents with one input (``question -> answer``) debate too: that input gets the topic and the
transcript as text, and their first output is their argument (they state no position, so they don't converge).
Compiled, each debater is a node in a ring closed by a Kailash cycle (one iteration per round), followed by the
judge node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import UserError
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

__all__ = ["DebatePattern", "DebateResult", "converged", "debate_turn", "judge_debate"]

DEBATER_SIGNATURE = "topic: str, transcript: str -> argument: str, position: str"
JUDGE_SIGNATURE = "topic: str, transcript: str -> winner: str, reasoning: str"


def transcript_text(transcript: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f"[round {t['round'] + 1}] {t['agent_id']}: {t['argument']}"
                     + (f" (position: {t['position']})" if t.get("position") else "") for t in transcript)


def _transcript_value(agent: Agent, transcript: Sequence[dict[str, Any]]) -> Any:
    f = agent.signature.fields.get("transcript")
    if f is not None and getattr(f.annotation, "__origin__", None) is list:
        return [transcript_text([t]) for t in transcript]
    return transcript_text(transcript) or "(no arguments yet)"


def _single_input(agent: Agent) -> str | None:
    """The one input an agent without the debate shape receives the debate through (``None``: typed shape)."""
    names = agent.signature.input_names
    if {"topic", "transcript"} <= set(names):
        return None
    required = [f.name for f in agent.signature.input_fields if f.required]
    if len(required) == 1 or (not required and len(names) == 1):
        return required[0] if required else names[0]
    raise UserError(f"debate agent {agent.agent_id!r} needs the inputs topic and transcript, or a single input "
                    f"to receive the debate as text (it takes {list(names)}); e.g. {DEBATER_SIGNATURE!r}")


def _debate_inputs(agent: Agent, topic: str, transcript: Sequence[dict[str, Any]], ask: str) -> dict[str, Any]:
    single = _single_input(agent)
    if single is None:
        return {"topic": topic, "transcript": _transcript_value(agent, transcript)}
    text = transcript_text(transcript) or "(no arguments yet)"
    return {single: f"Debate topic: {topic}\n\nTranscript so far:\n{text}\n\n{ask}"}


async def debate_turn(agent: Agent, topic: str, transcript: Sequence[dict[str, Any]], round_no: int, *,
                      parent_run_id: str | None = None, run: PatternRun | None = None,
                      timeout: float | None = None, breaker: CircuitBreaker | None = None) -> dict[str, Any]:
    """One debater's turn as a transcript entry ``{round, agent_id, argument, position, run_id | error}``."""
    inputs = _debate_inputs(agent, topic, transcript, f"You are {agent.agent_id}. Give your argument for "
                                                      f"round {round_no + 1}.")
    if run is not None:
        outcome: ExecutionResult | AgentFailure = await guarded_run(agent, inputs, run, timeout=timeout,
                                                                    breaker=breaker)
    else:
        outcome = await agent.arun(inputs, parent_run_id=parent_run_id)
    if isinstance(outcome, AgentFailure):
        return {"round": round_no, "agent_id": agent.agent_id, "argument": "", "position": None,
                "error": outcome.message}
    data = outcome.data
    argument_field = "argument" if "argument" in data else agent.signature.output_names[0]
    return {"round": round_no, "agent_id": agent.agent_id, "argument": str(data[argument_field]),
            "position": data.get("position"), "run_id": outcome.run_id}


def converged(transcript: Sequence[dict[str, Any]], round_no: int) -> bool:
    """True when every debater that answered in ``round_no`` holds the same (non-empty) position."""
    positions = {str(t["position"]).strip().lower() for t in transcript
                 if t["round"] == round_no and t.get("position") and not t.get("error")}
    answered = [t for t in transcript if t["round"] == round_no and not t.get("error")]
    return len(positions) == 1 and len(answered) >= 2


async def judge_debate(judge: Agent | None, topic: str, transcript: Sequence[dict[str, Any]], *,
                       parent_run_id: str | None = None) -> dict[str, Any]:
    """The judge's verdict, or the majority of the last round's positions when there is no judge."""
    if judge is not None:
        inputs = _debate_inputs(judge, topic, transcript, "Judge the debate: name the debater who made the "
                                                          "stronger case, and why.")
        result = await judge.arun(inputs, parent_run_id=parent_run_id)
        data = result.data
        return {"decision": data.get("winner", data[judge.signature.output_names[0]]), "judge": data,
                "transcript": list(transcript), "judge_run_id": result.run_id}
    last = max((t["round"] for t in transcript), default=0)
    counts: dict[str, int] = {}
    for t in transcript:
        if t["round"] == last and t.get("position"):
            counts[str(t["position"])] = counts.get(str(t["position"]), 0) + 1
    decision = max(counts, key=lambda k: counts[k]) if counts else None
    return {"decision": decision, "judge": {"votes": counts}, "transcript": list(transcript), "judge_run_id": ""}


@dataclass(frozen=True)
class DebateResult:
    topic: str
    decision: Any
    transcript: list[dict[str, Any]]
    rounds_run: int
    converged: bool
    judge: dict[str, Any]
    failures: list[AgentFailure] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    run_id: str = ""
    duration_ms: float = 0.0

    @property
    def winner(self) -> Any:
        return self.decision


class DebatePattern:
    """``debaters`` argue for up to ``rounds`` rounds; ``judge`` decides (else the majority of positions)."""

    name = "debate"

    def __init__(self, debaters: Sequence[Agent], judge: Agent | None = None, *, rounds: int = 3,
                 converge: bool = True, timeout: float | None = None, deadline: float | None = None,
                 max_failures: int = 2) -> None:
        if len(debaters) < 2:
            raise UserError("a debate needs at least two debaters")
        if rounds < 1:
            raise UserError(f"rounds must be at least 1, got {rounds}")
        for agent in [*debaters, *([judge] if judge else [])]:
            _single_input(agent)  # raises for agents that can take the debate neither way
        require_distinct_ids([a.agent_id for a in debaters], "debaters")
        self.debaters = list(debaters)
        self.judge = judge
        self.rounds = rounds
        self.converge = converge
        self.timeout = timeout
        self.deadline = deadline
        self.max_failures = max_failures

    async def arun(self, topic: str) -> DebateResult:
        run = PatternRun(self.name, {"topic": topic}, deadline=self.deadline)
        breaker = CircuitBreaker(self.max_failures)
        transcript: list[dict[str, Any]] = []
        rounds_run = 0
        done = False
        try:
            for round_no in range(self.rounds):
                run.check_deadline({"transcript": transcript})
                for agent in self.debaters:
                    if breaker.allowed(agent.agent_id):
                        transcript.append(await debate_turn(agent, topic, transcript, round_no, run=run,
                                                            timeout=self.timeout, breaker=breaker))
                rounds_run = round_no + 1
                alive = [a for a in self.debaters if breaker.allowed(a.agent_id)]
                if len(alive) < 2:
                    raise PatternError(f"debate stopped in round {round_no + 1}: fewer than two debaters left "
                                       f"({breaker.dropped})", partial={"transcript": transcript})
                if self.converge and converged(transcript, round_no):
                    done = True
                    break
            run.check_deadline({"transcript": transcript})
            verdict = await judge_debate(self.judge, topic, transcript, parent_run_id=run.run_id)
        except Exception as exc:
            if getattr(exc, "partial", None) is None:
                exc.partial = {"transcript": transcript}  # type: ignore[attr-defined]
            run.finish({}, exc)
            raise
        ms = run.finish({"decision": verdict["decision"], "rounds": rounds_run})
        failures = [AgentFailure(t["agent_id"], "error", t["error"]) for t in transcript if t.get("error")]
        return DebateResult(topic, verdict["decision"], transcript, rounds_run, done, verdict["judge"], failures,
                            dict(breaker.dropped), run.run_id, ms)

    def run(self, topic: str) -> DebateResult:
        return run_sync(self.arun(topic))

    def to_workflow(self, topic: str | None = None) -> WorkflowBuilder:
        """Debaters as a ring of turn nodes closed by a Kailash cycle (one iteration a round), then the judge."""
        from kailash.workflow.builder import WorkflowBuilder

        import kaizen_lab.patterns.nodes  # noqa: F401 - registers the pattern nodes
        from kaizen_lab.runtime.nodes import agent_config

        builder = WorkflowBuilder()
        ids = [f"debater_{a.agent_id}" for a in self.debaters]
        for i, (node_id, agent) in enumerate(zip(ids, self.debaters, strict=True)):
            config = {**agent_config(agent), "rounds": self.rounds, "converge": self.converge,
                      "closes_round": i == len(ids) - 1}
            if topic is not None:
                config["topic"] = topic
            builder.add_node("KaizenDebateTurnNode", node_id, config)
            if i:
                for name in ("transcript", "round", "topic"):
                    builder.add_connection(ids[i - 1], name, node_id, name)
        judge_config: dict[str, Any] = agent_config(self.judge) if self.judge else {}
        builder.add_node("KaizenDebateJudgeNode", "judge", judge_config)
        builder.add_connection(ids[-1], "transcript", "judge", "transcript")
        builder.add_connection(ids[-1], "topic", "judge", "topic")
        self._cycle = (ids[-1], ids[0])
        return builder

    def build_workflow(self, topic: str | None = None) -> Any:
        """The built ``Workflow`` with the round cycle in place (cycles are added after ``build``)."""
        builder = self.to_workflow(topic)
        workflow = builder.build()
        last, first = self._cycle
        workflow.create_cycle("debate_rounds").connect(
            last, first, {"transcript": "transcript", "round": "round", "topic": "topic"}
        ).max_iterations(self.rounds).converge_when("converged == True").build()
        return workflow

    def run_workflow(self, topic: str) -> DebateResult:
        """Run the compiled debate on LocalRuntime."""
        from kaizen_lab.runtime.execute import run_workflow

        t0 = time.perf_counter()
        workflow = self.build_workflow()
        run = run_workflow(workflow, parameters={f"debater_{self.debaters[0].agent_id}": {"topic": topic}})
        verdict = run.results["judge"]
        transcript = verdict["transcript"]
        rounds_run = max((t["round"] for t in transcript), default=-1) + 1
        done = self.converge and converged(transcript, rounds_run - 1)
        return DebateResult(topic, verdict["decision"], transcript, rounds_run, bool(done), verdict["judge"],
                            run_id=run.run_id, duration_ms=(time.perf_counter() - t0) * 1000)
