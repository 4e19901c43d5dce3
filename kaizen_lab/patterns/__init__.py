"""Multi-agent patterns built on the public Agent and runtime API: debate, pipeline, consensus, supervisor."""

from kaizen_lab.patterns._common import AgentFailure, CircuitBreaker, PatternError
from kaizen_lab.patterns.consensus import ConsensusPattern, ConsensusResult, Vote, aggregate_votes
from kaizen_lab.patterns.debate import DEBATER_SIGNATURE, JUDGE_SIGNATURE, DebatePattern, DebateResult
from kaizen_lab.patterns.pipeline import PipelinePattern, PipelineResult, PipelineStep
from kaizen_lab.patterns.supervisor import SupervisorPattern, SupervisorResult

__all__ = [
    "AgentFailure", "CircuitBreaker", "ConsensusPattern", "ConsensusResult", "DEBATER_SIGNATURE", "DebatePattern",
    "DebateResult", "JUDGE_SIGNATURE", "PatternError", "PipelinePattern", "PipelineResult", "PipelineStep",
    "SupervisorPattern", "SupervisorResult", "Vote", "aggregate_votes",
]
