"""Reading the answer's probability from token log-probabilities."""

from __future__ import annotations

import math

import pytest

from kaizen_lab.agents._confidence import answer_score, value_span
from kaizen_lab.models.base import TokenLogprob


def tokens(*pairs: tuple[str, float]) -> list[TokenLogprob]:
    return [TokenLogprob(t, lp) for t, lp in pairs]


def test_value_span_finds_the_key_in_the_json_object() -> None:
    text = 'Sure: {"reason": "answer: no", "answer": "Paris", "n": [1, {"answer": 2}]}'
    start, end = value_span(text, "answer")
    assert text[start:end] == '"Paris"'
    assert value_span(text, "missing") is None


def test_value_span_falls_back_to_the_value_text() -> None:
    text = "[[ ## answer ## ]]\nParis\n[[ ## completed ## ]]"
    start, end = value_span(text, "answer", "Paris")
    assert text[start:end] == "Paris"


def test_only_the_answer_tokens_count() -> None:
    toks = tokens(('{"', 0.0), ("answer", 0.0), ('":"', -0.5), ("Par", -0.2), ("is", -0.3), ('"}', -0.1))
    score = answer_score(toks, '{"answer":"Paris"}', "answer")
    assert score is not None
    # '":"' holds the opening quote, so it is part of the value's span
    assert score.logprob == pytest.approx(-0.5 - 0.2 - 0.3 - 0.1)
    assert score.confidence == pytest.approx(math.exp(score.logprob))


def test_other_splits_of_the_same_text_count_too() -> None:
    chosen = TokenLogprob("s", math.log(0.4), top=(("s", math.log(0.4)), ("sp", math.log(0.3)),
                                                   ("f", math.log(0.2))))
    toks = [TokenLogprob('{"label":"', 0.0), chosen, TokenLogprob("ports", 0.0), TokenLogprob('"}', 0.0)]
    score = answer_score(toks, '{"label":"sports"}', "label")
    assert score is not None
    assert score.confidence == pytest.approx(0.7)  # 's' and 'sp' both write 'sports'; 'f' does not


def test_tokens_that_do_not_spell_the_text_give_nothing() -> None:
    assert answer_score(tokens(("hello", -1.0)), '{"answer":"Paris"}', "answer") is None
    assert answer_score(None, '{"answer":"Paris"}', "answer") is None
    assert answer_score((), '{"answer":"Paris"}', "answer") is None
