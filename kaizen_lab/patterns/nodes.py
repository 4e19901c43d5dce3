"""Registered Kailash nodes for the patterns' compiled workflows.

Each node calls the same functions the patterns' direct ``run`` uses (``debate_turn``, ``aggregate_votes``),
so the compiled workflow, the step debugger and the direct path agree. Nodes inside a Kailash cycle receive a
``context`` keyword, so their ``run`` accepts ``**kwargs``.
"""

from __future__ import annotations

from typing import Any

from kailash.nodes.base import Node, NodeParameter, register_node

from kaizen_lab._aio import run_sync
from kaizen_lab.runtime.nodes import KaizenNode, node_parameter

__all__ = ["KaizenConsensusNode", "KaizenDebateJudgeNode", "KaizenDebateTurnNode", "KaizenValuesNode"]


@register_node()
class KaizenValuesNode(Node):
    """The entry of a pattern workflow: hands its ``values`` dict on (connections pick fields by dotted path)."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {"values": node_parameter("values", dict, {}, description="the pattern's inputs"),
                "kaizen_run_id": node_parameter("kaizen_run_id", str, "")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return {"values": dict(kwargs.get("values") or {})}


@register_node()
class KaizenDebateTurnNode(KaizenNode):
    """One debater's turn: reads the transcript, appends its argument; the last debater closes the round."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {**self._config_parameters(),
                "topic": node_parameter("topic", str, "", description="what is debated"),
                "transcript": node_parameter("transcript", list, [], description="turns so far"),
                "round": node_parameter("round", int, 0, description="round number, from 0"),
                "closes_round": node_parameter("closes_round", bool, False, description="last debater of a round"),
                "rounds": node_parameter("rounds", int, 3, description="rounds at most"),
                "converge": node_parameter("converge", bool, True, description="stop when positions agree")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        from kaizen_lab.patterns.debate import converged, debate_turn

        agent = self._agent()
        transcript = list(kwargs.get("transcript") or [])
        round_no = int(kwargs.get("round") or 0)
        turn = run_sync(debate_turn(agent, kwargs.get("topic") or "", transcript, round_no,
                                    parent_run_id=kwargs.get("kaizen_run_id") or None))
        transcript.append(turn)
        done = False
        if kwargs.get("closes_round"):
            done = (bool(kwargs.get("converge")) and converged(transcript, round_no)) or \
                round_no + 1 >= int(kwargs.get("rounds") or 1)
            round_no += 1
        return {"transcript": transcript, "round": round_no, "converged": done, "topic": kwargs.get("topic") or ""}


@register_node()
class KaizenDebateJudgeNode(KaizenNode):
    """Decide the debate: the judge agent when configured, else the majority of the last positions."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        params = {**self._config_parameters(),
                  "topic": node_parameter("topic", str, ""),
                  "transcript": node_parameter("transcript", list, [], required=True)}
        params["kaizen_signature"].default = None
        return params

    def _signature(self) -> Any:
        return self._agent().signature if self.config.get("kaizen_signature") else None

    def run(self, **kwargs: Any) -> dict[str, Any]:
        from kaizen_lab.patterns.debate import judge_debate

        judge = self._agent() if self.config.get("kaizen_signature") else None
        decision = run_sync(judge_debate(judge, kwargs.get("topic") or "", list(kwargs["transcript"]),
                                         parent_run_id=kwargs.get("kaizen_run_id") or None))
        return decision


@register_node()
class KaizenConsensusNode(Node):
    """Aggregate the agents' votes (``decision_<i>`` and ``confidence_<i>``) by the configured criteria."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        n = int(self.config.get("voters", 0))
        params = {"voters": node_parameter("voters", int, 0), "agent_ids": node_parameter("agent_ids", list, []),
                  "decision_criteria": node_parameter("decision_criteria", str, "majority"),
                  "confidence_threshold": node_parameter("confidence_threshold", float, 0.0),
                  "tie_break": node_parameter("tie_break", str, "highest_confidence"),
                  "kaizen_run_id": node_parameter("kaizen_run_id", str, "")}
        for i in range(n):
            params[f"decision_{i}"] = node_parameter(f"decision_{i}", object, None)
            params[f"confidence_{i}"] = node_parameter(f"confidence_{i}", object, None)
        return params

    def run(self, **kwargs: Any) -> dict[str, Any]:
        from kaizen_lab.patterns.consensus import Vote, aggregate_votes

        ids = list(kwargs.get("agent_ids") or [])
        votes = [Vote(ids[i] if i < len(ids) else f"agent_{i}", kwargs.get(f"decision_{i}"),
                      kwargs.get(f"confidence_{i}"))
                 for i in range(int(kwargs.get("voters") or 0)) if kwargs.get(f"decision_{i}") is not None]
        outcome = aggregate_votes(votes, criteria=kwargs.get("decision_criteria") or "majority",
                                  confidence_threshold=float(kwargs.get("confidence_threshold") or 0.0),
                                  tie_break=kwargs.get("tie_break") or "highest_confidence")
        return outcome.to_dict()
