"""Greedy and seeded temperature/top-p sampling."""

from __future__ import annotations

import numpy as np

from kaizen_lab.models.local._sampling import choose


def test_greedy_is_argmax_and_ignores_rng() -> None:
    logits = np.array([0.1, 3.0, 2.9, -1.0], np.float32)
    assert choose(logits) == 1
    assert choose(logits, temperature=0.0, rng=np.random.default_rng(1)) == 1


def test_same_seed_same_draws() -> None:
    logits = np.linspace(-2, 2, 50).astype(np.float32)
    a = [choose(logits, temperature=1.0, rng=rng) for rng in [np.random.default_rng(7)] for _ in range(30)]
    rng = np.random.default_rng(7)
    b = [choose(logits, temperature=1.0, rng=rng) for _ in range(30)]
    assert a == b
    assert len(set(a)) > 3  # it really samples


def test_tiny_top_p_keeps_only_the_best_token() -> None:
    logits = np.array([1.0, 5.0, 4.9, 0.0], np.float32)
    rng = np.random.default_rng(0)
    assert {choose(logits, temperature=2.0, top_p=0.01, rng=rng) for _ in range(50)} == {1}


def test_top_p_cuts_the_tail() -> None:
    # probabilities ~ [0.5, 0.3, 0.15, 0.05]: top_p=0.8 keeps the first two only
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05])).astype(np.float32)
    rng = np.random.default_rng(3)
    draws = {choose(logits, temperature=1.0, top_p=0.8, rng=rng) for _ in range(300)}
    assert draws == {0, 1}


def test_temperature_sharpens() -> None:
    logits = np.array([0.0, 1.0], np.float32)
    cold = [choose(logits, temperature=0.05, rng=np.random.default_rng(s)) for s in range(100)]
    warm = [choose(logits, temperature=5.0, rng=np.random.default_rng(s)) for s in range(100)]
    assert sum(cold) == 100
    assert 20 < sum(warm) < 80
