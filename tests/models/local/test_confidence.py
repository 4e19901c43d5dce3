"""A ``Confidence`` output computed by the embedded model separates its right answers from its wrong ones."""

from __future__ import annotations

import math

import pytest

from kaizen_lab import Agent
from kaizen_lab.models.local import LocalModel
from tests.models.local._confidence_set import auroc, load_items, run_items


def test_the_labelled_set_is_big_and_mixed() -> None:
    items = load_items()
    assert len(items) >= 100
    assert {i["kind"] for i in items} == {"short", "label"}
    assert all(i["answer"] in i["labels"] for i in items if i["kind"] == "label")


def test_auroc_rules_out_a_useless_score() -> None:
    labels = [True, True, False, False]
    assert auroc(labels, [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert auroc(labels, [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert auroc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5  # a constant, like a generated 0.5, is chance


@pytest.mark.slow  # 129 answers: ~1 min of CPU
def test_computed_confidence_separates_right_from_wrong(local_model: LocalModel) -> None:
    results = run_items(local_model, load_items())
    correct = [ok for ok, _, _ in results]
    assert 0.2 < sum(correct) / len(correct) < 0.8, "the set must mix answers the model gets right and wrong"
    confidences = [c for _, c, _ in results]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    # the confidence is the answer's probability: exp of the log-probability in the result's metadata
    assert all(lp is not None and math.isclose(c, math.exp(lp), rel_tol=1e-9) for _, c, lp in results)
    score = auroc(correct, confidences)
    assert score >= 0.70, f"AUROC {score:.3f} on {len(results)} items ({sum(correct)} right)"


def test_the_model_is_not_asked_for_the_confidence(local_model: LocalModel) -> None:
    agent = Agent("qa", "question: str -> answer: str, confidence: Confidence", model=local_model)
    result = agent.execute(question="What is the capital of France?")
    sent = next(e for e in result.events if e.kind == "model_called")
    assert "confidence" not in sent.text_preview  # the model wrote the answer only
    assert result.answer == "Paris"
    assert 0.0 < result.confidence <= 1.0
    assert result.confidence == pytest.approx(math.exp(result.metadata.answer_logprob))


def test_a_label_answer_carries_its_probability(local_model: LocalModel) -> None:
    agent = Agent("mood", "text: str -> mood: Literal['happy', 'sad'], sure: Confidence", model=local_model)
    result = agent.execute(text="I won the lottery and I am thrilled!")
    assert result.mood in ("happy", "sad")
    assert 0.5 < result.sure <= 1.0  # two labels, the chosen one is the likelier under the grammar


def test_a_plain_float_is_still_generated(local_model: LocalModel) -> None:
    agent = Agent("qa", "question: str -> answer: str, confidence: float", model=local_model)
    result = agent.execute(question="What is the capital of France?")
    sent = next(e for e in result.events if e.kind == "model_called")
    assert '"confidence"' in sent.text_preview  # asked of the model, as before
    assert result.metadata.answer_logprob is not None and result.metadata.answer_logprob < 0.0
