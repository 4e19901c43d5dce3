"""Choosing the next token from logits: greedy, or temperature + nucleus (top-p) sampling with a seeded RNG."""

from __future__ import annotations

import numpy as np

__all__ = ["choose"]


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
