"""The numpy forward pass: KV cache consistency and partial logits."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_incremental_decoding_matches_one_batch(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded._engine
    ids = loaded.tokenizer.encode("The quick brown fox jumps over the lazy dog")
    batch = engine.hidden(ids, engine.new_cache(32))
    cache = engine.new_cache(32)
    engine.hidden(ids[:3], cache)
    for t in ids[3:]:
        step = engine.hidden([t], cache)
    assert cache.length == len(ids)
    np.testing.assert_allclose(step, batch, rtol=1e-3, atol=1e-3)
    assert batch.dtype == np.float32


def test_partial_logits_equal_full_rows(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded._engine
    h = engine.hidden(loaded.tokenizer.encode("Hello"), engine.new_cache(8))
    full = engine.logits(h)
    rows = np.array([2, 17, 4649, 49151])
    np.testing.assert_allclose(engine.logits(h, rows), full[rows], rtol=1e-5, atol=1e-4)
    assert full.shape == (49152,) and full.dtype == np.float32


def test_cache_overflow_is_refused(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded._engine
    with pytest.raises(ValueError, match="context full"):
        engine.hidden([1, 2, 3], engine.new_cache(2))
