"""Debate, pipeline, consensus and supervisor on FunctionModel agents with known behaviour."""

from __future__ import annotations

import asyncio
import time

import pytest

from kaizen_lab import events as ev
from kaizen_lab.agents import Agent
from kaizen_lab.errors import KaizenTimeoutError, UserError
from kaizen_lab.models import FunctionModel, TestModel
from kaizen_lab.patterns import (
    DEBATER_SIGNATURE,
    JUDGE_SIGNATURE,
    ConsensusPattern,
    DebatePattern,
    PatternError,
    PipelinePattern,
    SupervisorPattern,
    Vote,
    aggregate_votes,
)
from kaizen_lab.runtime import run_workflow

VOTER = "question -> answer: str, confidence: float"


def voter(agent_id: str, answer: str, confidence: float = 0.9, delay: float = 0.0) -> Agent:
    async def fn(messages, info):
        if delay:
            await asyncio.sleep(delay)
        return {"answer": answer, "confidence": confidence}

    return Agent(agent_id, VOTER, model=FunctionModel(fn, name=agent_id))


def failing(agent_id: str) -> Agent:
    def fn(messages, info):
        raise RuntimeError(f"{agent_id} is down")

    return Agent(agent_id, VOTER, model=FunctionModel(fn, name=agent_id))


# -- consensus --------------------------------------------------------------------------------------------

def test_consensus_majority_two_to_one() -> None:
    result = ConsensusPattern([voter("a", "Paris"), voter("b", "paris "), voter("c", "Lyon")]).run(question="q")
    assert result.decision == "Paris" and result.reached
    assert result.tally == {"paris": 2.0, "lyon": 1.0}
    assert result.agreement == pytest.approx(2 / 3)
    assert {v.agent_id for v in result.votes} == {"a", "b", "c"}


def test_consensus_weighted_breaks_what_majority_would_not() -> None:
    agents = [voter("a", "yes", 0.9), voter("b", "no", 0.3), voter("c", "no", 0.3)]
    assert ConsensusPattern(agents, decision_criteria="majority").run(question="q").decision == "no"
    assert ConsensusPattern(agents, decision_criteria="weighted").run(question="q").decision == "yes"


def test_weighted_tie_is_broken_by_first_vote_when_confidence_is_equal() -> None:
    votes = [Vote("a", "x", 0.5), Vote("b", "y", 0.5)]
    outcome = aggregate_votes(votes, criteria="weighted")
    assert outcome.decision == "x" and "equal confidence" in outcome.reason
    assert aggregate_votes(votes, criteria="weighted", tie_break="none").reached is False


def test_majority_tie_broken_by_total_confidence() -> None:
    votes = [Vote("a", "x", 0.2), Vote("b", "y", 0.9)]
    outcome = aggregate_votes(votes, criteria="majority")
    assert outcome.decision == "y" and "total confidence" in outcome.reason


def test_unanimous_requires_all_counted_votes_to_agree() -> None:
    assert aggregate_votes([Vote("a", "x"), Vote("b", "X")], criteria="unanimous").reached
    no = aggregate_votes([Vote("a", "x"), Vote("b", "y")], criteria="unanimous")
    assert not no.reached and no.decision is None and "2 different answers" in no.reason


def test_confidence_threshold_sets_low_votes_aside() -> None:
    result = ConsensusPattern([voter("a", "x", 0.2), voter("b", "y", 0.8), voter("c", "x", 0.1)],
                              confidence_threshold=0.5).run(question="q")
    assert result.decision == "y"
    assert sorted(result.set_aside) == ["a", "c"]


def test_consensus_survives_a_hanging_agent_within_its_timeout() -> None:
    agents = [voter("a", "x"), voter("b", "x"), voter("slow", "y", delay=30)]
    t0 = time.perf_counter()
    result = ConsensusPattern(agents, timeout=0.2).run(question="q")
    assert time.perf_counter() - t0 < 5
    assert result.decision == "x"
    assert [f.agent_id for f in result.failures] == ["slow"]
    assert result.failures[0].error_type == "KaizenTimeoutError"


def test_consensus_with_too_few_votes_raises_with_partial_votes() -> None:
    pattern = ConsensusPattern([voter("a", "x"), failing("b"), failing("c")], min_votes=2)
    with pytest.raises(PatternError, match="1 vote\\(s\\), fewer than min_votes=2") as info:
        pattern.run(question="q")
    assert [v.agent_id for v in info.value.partial["votes"]] == ["a"]
    assert {f.agent_id for f in info.value.partial["failures"]} == {"b", "c"}


def test_circuit_breaker_drops_an_agent_after_repeated_failures() -> None:
    pattern = ConsensusPattern([voter("a", "x"), voter("b", "x"), failing("c")], max_failures=2)
    pattern.run(question="1")
    pattern.run(question="2")
    third = pattern.run(question="3")
    assert "c" in pattern.breaker.dropped
    assert third.failures[0].error_type == "CircuitOpen"
    assert "dropped after 2 consecutive failures" in third.failures[0].message


def test_consensus_rejects_bad_options_early() -> None:
    with pytest.raises(UserError, match="decision_criteria 'majorty'.*did you mean 'majority'"):
        ConsensusPattern([voter("a", "x"), voter("b", "y")], decision_criteria="majorty")
    with pytest.raises(UserError, match="has no output 'verdict'"):
        ConsensusPattern([voter("a", "x"), voter("b", "y")], decision_field="verdict")


def test_compiled_consensus_decides_like_the_direct_run() -> None:
    agents = [voter("a", "Paris"), voter("b", "Paris"), voter("c", "Lyon")]
    pattern = ConsensusPattern(agents)
    run = run_workflow(pattern.to_workflow(), {"question": "capital?"})
    assert run.results["aggregate"]["decision"] == pattern.run(question="capital?").decision == "Paris"
    assert run.results["aggregate"]["tally"] == {"paris": 2.0, "lyon": 1.0}


# -- debate -----------------------------------------------------------------------------------------------

def debater(agent_id: str, positions: list[str]) -> Agent:
    def fn(messages, info):
        pos = positions[min(info.call_index, len(positions) - 1)]
        return {"argument": f"{agent_id} argues {pos}", "position": pos}

    return Agent(agent_id, DEBATER_SIGNATURE, model=FunctionModel(fn, name=agent_id))


def test_debate_converges_in_round_two_and_transcript_grows() -> None:
    seen_transcripts = []

    def judge_fn(messages, info):
        seen_transcripts.append(messages[-1].content)
        return {"winner": "pro", "reasoning": "consistent"}

    judge = Agent("judge", JUDGE_SIGNATURE, model=FunctionModel(judge_fn))
    pattern = DebatePattern([debater("pro", ["yes"]), debater("con", ["no", "yes"])], judge, rounds=5)
    result = pattern.run("Is tea better than coffee?")
    assert result.converged and result.rounds_run == 2
    assert [(t["round"], t["agent_id"]) for t in result.transcript] == [(0, "pro"), (0, "con"), (1, "pro"), (1, "con")]
    assert result.winner == "pro"
    assert "con argues no" in seen_transcripts[0]


def test_debate_without_judge_takes_majority_of_last_positions() -> None:
    result = DebatePattern([debater("a", ["x"]), debater("b", ["y"]), debater("c", ["x"])], rounds=2).run("t")
    assert result.rounds_run == 2 and not result.converged
    assert result.decision == "x"


def test_debater_sees_the_growing_transcript() -> None:
    prompts = []

    def fn(messages, info):
        prompts.append(messages[-1].content)
        return {"argument": f"turn {info.call_index}", "position": str(info.call_index)}

    a = Agent("a", DEBATER_SIGNATURE, model=FunctionModel(fn))
    DebatePattern([a, debater("b", ["z"])], rounds=2).run("t")
    assert "(no arguments yet)" in prompts[0]
    assert "b argues z" in prompts[1] and "a: turn 0" in prompts[1]


def test_debate_agents_must_take_topic_and_transcript_or_one_input() -> None:
    with pytest.raises(UserError, match="needs the inputs topic and transcript, or a single input"):
        DebatePattern([Agent("a", "question, context -> answer", model="test"), debater("b", ["x"])])


def test_debate_deadline_keeps_the_transcript_so_far() -> None:
    async def slow(messages, info):
        await asyncio.sleep(0.15)
        return {"argument": "slow", "position": str(info.call_index)}

    a = Agent("a", DEBATER_SIGNATURE, model=FunctionModel(slow))
    b = Agent("b", DEBATER_SIGNATURE, model=FunctionModel(slow))
    with pytest.raises(KaizenTimeoutError, match="passed its deadline") as info:
        DebatePattern([a, b], rounds=10, deadline=0.5, converge=False).run("t")
    assert len(info.value.partial["transcript"]) >= 2


def test_compiled_debate_runs_rounds_as_a_kailash_cycle() -> None:
    pattern = DebatePattern([debater("pro", ["yes"]), debater("con", ["no", "yes"])], rounds=4)
    workflow = pattern.build_workflow()
    cycle_edges = [(a, b) for a, b, d in workflow.graph.edges(data=True) if d.get("cycle")]
    assert cycle_edges == [("debater_con", "debater_pro")]
    pattern2 = DebatePattern([debater("pro", ["yes"]), debater("con", ["no", "yes"])], rounds=4)
    result = pattern2.run_workflow("Is tea better?")
    assert result.rounds_run == 2 and result.converged and result.decision == "yes"


# -- pipeline ---------------------------------------------------------------------------------------------

def test_pipeline_maps_outputs_to_inputs_by_field_name() -> None:
    draft = Agent("draft", "question -> draft", model=FunctionModel(lambda m, i: {"draft": "d1"}))
    edit = Agent("edit", "draft, question -> answer",
                 model=FunctionModel(lambda m, i: {"answer": m[-1].content.replace("\n", " | ")}))
    result = PipelinePattern([draft, edit]).run(question="why?")
    assert result.answer == "draft: d1 | question: why?"
    assert [s.metadata.agent_id for s in result.steps] == ["draft", "edit"]


def test_pipeline_explicit_mapping() -> None:
    first = Agent("first", "question -> text", model=FunctionModel(lambda m, i: {"text": "abc"}))
    second = Agent("second", "content -> summary", model=FunctionModel(lambda m, i: {"summary": m[-1].content}))
    result = PipelinePattern([first, (second, {"content": "text"})]).run(question="q")
    assert result.summary == "content: abc"


def test_pipeline_missing_field_is_a_clear_error_before_any_call() -> None:
    first_model = FunctionModel(lambda m, i: {"text": "abc"})
    first = Agent("first", "question -> text", model=first_model)
    second = Agent("second", "txt -> summary", model="test")
    with pytest.raises(UserError, match=r"step 2 \('second'\) needs input 'txt'.*did you mean 'text'"):
        PipelinePattern([first, second]).run(question="q")
    assert first_model.calls == 0


def test_pipeline_step_failure_keeps_earlier_results() -> None:
    first = Agent("first", "question -> text", model=FunctionModel(lambda m, i: {"text": "abc"}))
    second = Agent("second", "text -> summary", model=FunctionModel(lambda m, i: 1 / 0))
    with pytest.raises(PatternError, match="step 'second' failed") as info:
        PipelinePattern([first, second]).run(question="q")
    assert info.value.partial["context"]["text"] == "abc"


def test_compiled_pipeline_matches_direct_run() -> None:
    first = Agent("first", "question -> text", model=FunctionModel(lambda m, i: {"text": m[-1].content.upper()}))
    second = Agent("second", "text, question -> answer",
                   model=FunctionModel(lambda m, i: {"answer": m[-1].content.replace("\n", " ")}))
    pattern = PipelinePattern([first, second])
    assert pattern.run_workflow(question="go").answer == pattern.run(question="go").answer


# -- supervisor and events --------------------------------------------------------------------------------

def test_supervisor_routes_to_the_chosen_worker() -> None:
    math = Agent("math", "task -> answer", model=FunctionModel(lambda m, i: {"answer": "42"}))
    words = Agent("words", "task -> answer", model=FunctionModel(lambda m, i: {"answer": "forty-two"}))
    router = FunctionModel(lambda m, i: {"agent": "words", "reason": "spelled out"})
    result = SupervisorPattern({"math": math, "words": words}, model=router).run(task="spell 42")
    assert result.chosen == "words" and result.outputs == {"answer": "forty-two"}
    router_signature = SupervisorPattern({"math": math, "words": words}, model="test").router.signature
    assert router_signature.output_schema()["properties"]["agent"]["enum"] == ["math", "words"]


def test_pattern_runs_nest_their_agent_runs() -> None:
    seen: list = []
    remove = ev.add_listener(seen.append)
    try:
        result = ConsensusPattern([voter("a", "x"), voter("b", "x")]).run(question="q")
    finally:
        remove()
    starts = [e for e in seen if e.kind == "run_started"]
    assert starts[0].agent_id == "pattern:consensus" and starts[0].run_id == result.run_id
    assert {e.parent_run_id for e in starts[1:]} == {result.run_id}
    assert seen[-1].kind == "run_finished" and seen[-1].run_id == result.run_id


def test_kaizen_facade_builds_patterns_from_configs() -> None:
    from kaizen_lab.framework import Kaizen

    kaizen = Kaizen(default_model="test")
    builder = kaizen.create_consensus_workflow(
        [{"agent_id": "a", "signature": VOTER}, {"agent_id": "b", "signature": VOTER}])
    run = run_workflow(builder, {"question": "q"})
    assert run.results["aggregate"]["decision"] == "test answer"
    pipe = kaizen.create_pipeline([{"agent_id": "p1", "signature": "question -> draft"},
                                   {"agent_id": "p2", "signature": "draft -> answer"}])
    assert sorted(pipe.build().nodes) == ["inputs", "p1", "p2"]
    assert isinstance(kaizen.get_agent("p1").model, TestModel)


def test_patterns_refuse_agents_sharing_an_id() -> None:
    with pytest.raises(UserError, match=r"consensus agents need distinct agent ids, got \['a', 'a'\]"):
        ConsensusPattern([voter("a", "x"), voter("a", "y")])
    with pytest.raises(UserError, match="debaters need distinct agent ids"):
        DebatePattern([debater("d", ["x"]), debater("d", ["y"])])
    with pytest.raises(UserError, match="pipeline steps need distinct agent ids"):
        PipelinePattern([voter("p", "x"), voter("p", "y")])


def test_plain_agents_debate_through_their_single_input() -> None:
    prompts: list[str] = []

    def plain(name: str) -> Agent:
        def fn(messages, info):
            prompts.append(messages[-1].content)
            return {"answer": f"{name} says {len(prompts)}"}

        return Agent(name, "question -> answer", model=FunctionModel(fn, name=name))

    judge = Agent("judge", "task: str -> verdict: str", model=FunctionModel(lambda m, i: {"verdict": "y wins"}))
    result = DebatePattern([plain("x"), plain("y")], judge, rounds=2).run("cats or dogs")
    assert [t["argument"] for t in result.transcript] == ["x says 1", "y says 2", "x says 3", "y says 4"]
    assert all(t["position"] is None for t in result.transcript) and not result.converged
    assert result.decision == "y wins" and result.rounds_run == 2
    assert prompts[0].startswith("question: Debate topic: cats or dogs") and "x says 1" in prompts[1]
