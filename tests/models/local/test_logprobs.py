"""Per-token log-probabilities from the generation loop, with and without a grammar."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kaizen_lab.models.local._sampling import log_normaliser, top_alternatives


def test_log_normaliser_matches_the_textbook_formula() -> None:
    logits = np.random.default_rng(3).normal(0, 8, 5000).astype(np.float32)
    reference = float(np.log(np.exp(logits.astype(np.float64)).sum()))
    assert math.isclose(log_normaliser(logits), reference, rel_tol=1e-5)
    huge = np.array([1000.0, 1000.0], np.float32)  # no overflow: two equal tokens are 50/50
    assert math.isclose(1000.0 - log_normaliser(huge), math.log(0.5), rel_tol=1e-6)


def test_top_alternatives_are_the_best_first() -> None:
    logits = np.array([0.5, 3.0, -1.0, 3.0, 2.0], np.float32)
    norm = log_normaliser(logits)
    top = top_alternatives(logits, norm, 3)
    assert [i for i, _ in top] == [1, 3, 4]  # the tie goes to the lower index
    assert math.isclose(top[0][1], 3.0 - norm, rel_tol=1e-6)
    assert sum(math.exp(lp) for _, lp in top_alternatives(logits, norm, 10)) == \
        pytest.approx(1.0, rel=1e-5)


def _prompt(loaded, question: str) -> list[int]:  # type: ignore[no-untyped-def]
    from kaizen_lab.messages import Message
    from kaizen_lab.models.local._chat import render_chat

    return loaded.tokenizer.encode(render_chat([Message("user", question)], template=loaded.chat_template,
                                               system_prompt="You are a helpful assistant."))


def test_free_text_tokens_carry_their_probability_under_the_model(loaded) -> None:  # type: ignore[no-untyped-def]
    prompt = _prompt(loaded, "What is the capital of France?")
    steps = list(loaded.generate(prompt, max_tokens=4, top_logprobs=3))
    tokens = [t for s in steps for t in s.tokens]
    logprobs = [lp for s in steps for lp in s.logprobs]
    tops = [t for s in steps for t in s.top_logprobs]
    assert len(tokens) == len(logprobs) == len(tops) == 4
    # re-score the same tokens with an independent forward pass (teacher forcing)
    session = loaded.session(len(prompt) + 8)
    fed = prompt
    for token, logprob, top in zip(tokens, logprobs, tops, strict=True):
        session.feed(fed)
        row = session.next_logits().astype(np.float64)
        expected = row[token] - np.log(np.exp(row - row.max()).sum()) - row.max()
        assert math.isclose(logprob, expected, abs_tol=1e-3)
        assert top[0][0] == token  # greedy: the chosen token is the most likely one
        assert all(a[1] >= b[1] for a, b in zip(top, top[1:], strict=False))
        fed = [token]


def test_constrained_tokens_are_scored_over_the_allowed_ones(loaded) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]}},
              "required": ["sentiment"]}
    grammar = loaded.grammar(json.dumps(schema, sort_keys=True), schema)
    prompt = _prompt(loaded, "Classify the sentiment of: I love this phone!")
    steps = list(loaded.generate(prompt, max_tokens=32, grammar=grammar, top_logprobs=5000))
    text = "".join(s.text for s in steps)
    assert json.loads(text)["sentiment"] in {"positive", "negative", "neutral"}
    scored = [(s, lp, top) for s in steps for lp, top in zip(s.logprobs, s.top_logprobs, strict=True)]
    assert len(scored) == sum(len(s.tokens) for s in steps)
    forced = [lp for s, lp, top in scored if len(s.tokens) > 1 or len(top) == 1]
    chosen = [(lp, top) for s, lp, top in scored if len(top) > 1]
    assert forced and all(lp == 0.0 for lp in forced)  # forced tokens were the only choice
    assert chosen, "the label is a real choice between the allowed tokens"
    for logprob, top in chosen:
        assert logprob < 0.0
        # the alternatives are the allowed tokens only, and their probabilities sum to one
        assert sum(math.exp(lp) for _, lp in top) == pytest.approx(1.0, abs=1e-4)
