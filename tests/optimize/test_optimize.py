"""Evaluation, the prompt optimizer and the auto-optimization engine on FunctionModel agents."""

from __future__ import annotations

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import UserError
from kaizen_lab.models import FunctionModel
from kaizen_lab.optimize import (
    AutoOptimizationEngine,
    CachingOptimizer,
    ModelSelectionOptimizer,
    PromptOptimizer,
    bootstrap_ci,
    evaluate,
    exact_match,
    json_field_match,
    normalized_match,
    numeric_tolerance,
    token_f1,
)
from kaizen_lab.optimize.engine import OptimizationPlan

DATA = [{"word": w, "answer": w.upper()} for w in
        ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "melon", "grape", "peach", "mango", "berry"]]


def _word(messages) -> str:
    return messages[-1].content.split(": ", 1)[1]


def demo_sensitive(messages, info):
    """Right only when a demo (an earlier assistant turn) shows the format."""
    word = _word(messages)
    shown = any(m.role == "assistant" for m in messages[:-1])
    return {"answer": word.upper() if shown else word}


def instruction_sensitive(messages, info):
    word = _word(messages)
    return {"answer": word.upper() if "only the requested value" in messages[0].content else f"{word}!"}


# -- metrics and evaluation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("metric", "expected", "predicted", "score"), [
    (exact_match(), {"a": "x"}, {"a": " x "}, 1.0),
    (exact_match(), {"a": "x"}, {"a": "X"}, 0.0),
    (normalized_match(), {"a": "The Paris!"}, {"a": "paris"}, 1.0),
    (token_f1(), {"a": "new york city"}, {"a": "new york"}, 0.8),
    (numeric_tolerance(tolerance=0.01), {"a": 3.14159}, {"a": "3.145"}, 1.0),
    (numeric_tolerance(tolerance=0.001), {"a": 3.14159}, {"a": 3.15}, 0.0),
    (numeric_tolerance(tolerance=0.1, relative=True), {"a": 100}, {"a": 109}, 1.0),
    (json_field_match(["city.name", "city.zip"]), {"city": {"name": "Oslo", "zip": "1"}},
     {"city": {"name": "oslo", "zip": "2"}}, 0.5),
])
def test_builtin_metrics(metric, expected, predicted, score) -> None:
    assert metric(expected, predicted) == pytest.approx(score)


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean() -> None:
    scores = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    lo, hi = bootstrap_ci(scores, seed=3)
    assert (lo, hi) == bootstrap_ci(scores, seed=3)
    assert lo < sum(scores) / len(scores) < hi
    assert bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


def test_evaluate_reports_scores_records_and_calls() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(lambda m, i: {"answer": _word(m).upper()}))
    report = evaluate(agent, DATA[:4], "exact_match")
    assert report.mean == 1.0 and report.n == 4 and report.model_calls == 4
    assert report.records[0]["predicted"] == {"answer": "APPLE"}


def test_evaluate_counts_failed_runs_as_zero() -> None:
    # a single str output accepts raw text, so an int output makes the answer unparseable
    strict = Agent("bad", "word -> answer: int", model=FunctionModel(lambda m, i: "no"), max_retries=0)
    report = evaluate(strict, [{"word": "a", "answer": 1}, {"word": "b", "answer": 2}])
    assert report.errors == 2 and report.mean == 0.0
    assert "could not parse" in report.records[0]["error"]


def test_evaluate_rejects_unknown_dataset_fields() -> None:
    agent = Agent("up", "word -> answer", model="test")
    with pytest.raises(UserError, match="unknown field 'wrod' \\(did you mean 'word'\\?\\)"):
        evaluate(agent, [{"wrod": "x", "answer": "X"}])


# -- prompt optimizer -------------------------------------------------------------------------------------

def test_optimizer_finds_that_demos_fix_the_format() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(demo_sensitive))
    result = PromptOptimizer("exact_match", propose_instructions=0, seed=1).optimize(agent, DATA)
    report = result.report
    assert report.baseline.mean == 0.0
    assert report.optimized.mean == 1.0 and report.improved
    assert report.winner.kind in {"demos", "combined"}
    assert len(result.signature.demos) >= 1
    assert Agent("check", result.signature, model=FunctionModel(demo_sensitive)).execute(word="zz").answer == "ZZ"


def test_optimizer_finds_the_instruction_template_that_works() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(instruction_sensitive))
    result = PromptOptimizer("exact_match", propose_instructions=0, demo_sets=0).optimize(agent, DATA)
    assert result.report.baseline.mean == 0.0 and result.report.optimized.mean == 1.0
    assert "only the requested value" in result.signature.instructions
    assert result.report.improvement == 1.0


def test_optimizer_keeps_the_baseline_when_nothing_helps() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(lambda m, i: {"answer": "?"}))
    result = PromptOptimizer(propose_instructions=0).optimize(agent, DATA)
    assert result.report.winner.name == "baseline" and not result.report.improved


def test_optimizer_is_deterministic_for_a_seed() -> None:
    def run() -> dict:
        agent = Agent("up", "word -> answer", model=FunctionModel(demo_sensitive))
        summary = PromptOptimizer(propose_instructions=0, seed=7).optimize(agent, DATA).report.summary()
        for part in ("baseline", "optimized"):
            summary[part].pop("latency_ms")  # wall time is the one thing a seed cannot fix
        return summary

    assert run() == run()


def test_optimizer_respects_its_call_budget() -> None:
    model = FunctionModel(demo_sensitive)
    agent = Agent("up", "word -> answer", model=model)
    result = PromptOptimizer(budget=20, propose_instructions=1).optimize(agent, DATA)
    assert result.report.calls_used <= 20
    assert model.calls == result.report.calls_used


def test_optimizer_uses_model_proposed_instructions() -> None:
    def fn(messages, info):
        if "improved_instructions" in messages[0].content:
            return {"improved_instructions": "Return only the requested value in capitals."}
        return instruction_sensitive(messages, info)

    agent = Agent("up", "word -> answer", model=FunctionModel(fn))
    result = PromptOptimizer(demo_sets=0, templates=("{base}",), propose_instructions=1).optimize(agent, DATA)
    assert result.report.winner.name == "proposed-0"
    assert result.report.optimized.mean == 1.0


def test_progress_callback_sees_every_candidate() -> None:
    seen = []
    agent = Agent("up", "word -> answer", model=FunctionModel(demo_sensitive))
    report = PromptOptimizer(propose_instructions=0, progress=seen.append).optimize(agent, DATA).report
    assert [e["candidate"] for e in seen] == [c.name for c in report.candidates]


def test_optimizer_needs_enough_data() -> None:
    with pytest.raises(UserError, match="at least 4 labelled examples"):
        PromptOptimizer().optimize(Agent("a", "word -> answer", model="test"), DATA[:2])


# -- engine -----------------------------------------------------------------------------------------------

def test_caching_plan_cuts_model_calls_on_a_repeated_workload() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(lambda m, i: {"answer": _word(m).upper()}))
    history = [agent.execute(word=w) for w in ["a", "b", "a", "a", "b", "c"]]
    engine = AutoOptimizationEngine([agent])
    plan = engine.optimize_framework(history)
    assert [s["optimization"] for s in plan.describe()] == ["caching"]
    assert "50% of 6 requests repeat" in plan.describe()[0]["reason"]
    workload = [("up", {"word": w}) for w in ["a", "b", "a", "a", "b", "c"] * 3]
    results = engine.apply_optimizations(plan, workload)
    assert results.before.model_calls == 18
    assert results.after.model_calls == 3
    assert results.model_calls_saved == 15 and not results.errors


def test_model_selection_picks_the_cheaper_model_that_passes() -> None:
    good_cheap = FunctionModel(lambda m, i: {"answer": _word(m).upper()}, name="cheap")
    bad_cheaper = FunctionModel(lambda m, i: {"answer": "?"}, name="cheapest")
    expensive = FunctionModel(lambda m, i: {"answer": _word(m).upper()}, name="expensive")
    agent = Agent("up", "word -> answer", model=expensive)
    step = ModelSelectionOptimizer([(expensive, 10.0), (good_cheap, 0.5), (bad_cheaper, 0.1)], DATA[:4],
                                   threshold=1.0)
    engine = AutoOptimizationEngine([agent])
    results = engine.apply_optimizations(OptimizationPlan([("up", step)], {}), [("up", {"word": "x"})])
    assert agent.model is good_cheap
    tried = results.applied[0]["tried"]
    assert [t["model"] for t in tried] == ["function:cheapest", "function:cheap"]


def test_failing_optimization_is_recorded_and_others_still_apply() -> None:
    agent = Agent("up", "word -> answer", model=FunctionModel(lambda m, i: {"answer": "A"}))

    class Broken:
        name = "broken"
        reason = "test"

        async def apply(self, agent):
            raise RuntimeError("cannot apply")

    plan = OptimizationPlan([("up", Broken()), ("up", CachingOptimizer(reason="r"))], {})
    results = AutoOptimizationEngine([agent]).apply_optimizations(plan, [("up", {"word": "a"})] * 3)
    assert results.errors == [{"agent_id": "up", "optimization": "broken", "error": "RuntimeError: cannot apply"}]
    assert [a["optimization"] for a in results.applied] == ["caching"]
    assert results.after.model_calls == 1
