"""Choosing the next token from logits (greedy, or temperature + nucleus (top-p) sampling with a seeded RNG), and
scoring it: the log-probability of a token at temperature 1, and the most likely alternatives."""

from __future__ import annotations

import numpy as np

__all__ = ["choose", "log_normaliser", "top_alternatives"]


def choose(logits: np.ndarray, *, temperature: float = 0.0, top_p: float = 1.0,
           rng: np.random.Generator | None = None) -> int:
    """Index of the chosen entry of ``logits``.

    ``temperature <= 0`` is greedy (argmax; ties go to the lowest index, so it is deterministic).
    Otherwise the softmax of ``logits / temperature`` is cut to the smallest set of tokens whose
    probability mass reaches ``top_p`` and one is drawn with ``rng`` (reproducible for a fixed seed).
    """
    if temperature <= 0.0 or logits.shape[0] == 1:
        return int(np.argmax(logits))
    if rng is None:
        rng = np.random.default_rng()
    # float64 here is deliberate: one small vector, and it keeps the cumulative sum exact enough.
    z = logits.astype(np.float64) / float(temperature)
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        q = p[keep] / p[keep].sum()
        return int(keep[rng.choice(keep.shape[0], p=q)])
    return int(rng.choice(p.shape[0], p=p))


def log_normaliser(logits: np.ndarray) -> float:
    """``log(sum(exp(logits)))``, computed stably: ``logits[i] - log_normaliser(logits)`` is token ``i``'s
    log-probability at temperature 1 (one pass over the row, no full log-softmax array)."""
    top = float(logits.max())
    return top + float(np.log(np.exp(logits - top, dtype=np.float32).sum(dtype=np.float64)))


def top_alternatives(logits: np.ndarray, norm: float, k: int) -> list[tuple[int, float]]:
    """The ``k`` most likely entries of ``logits`` as ``(index, log-probability)``, best first (ties: lowest
    index first)."""
    k = min(k, logits.shape[0])
    if k <= 0:
        return []
    part = np.argpartition(-logits, k - 1)[:k] if k < logits.shape[0] else np.arange(logits.shape[0])
    order = part[np.lexsort((part, -logits[part]))]
    return [(int(i), float(logits[i]) - norm) for i in order]
