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


@pytest.mark.parametrize("chunk", [7, 16, 256])
def test_chunked_prompt_pass_gives_the_token_by_token_logits(loaded, chunk: int) -> None:  # type: ignore[no-untyped-def]
    # 7 and 16 do not divide the prompt: the last block is shorter, and later blocks attend to cached ones
    engine = loaded._engine
    ids = loaded.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 6)
    assert len(ids) % 7 and len(ids) % 16 and len(ids) > 32
    stepped = engine.new_cache(len(ids))
    for t in ids:
        one = engine._step(t, stepped)
    blocked = engine.new_cache(len(ids))
    seen: list[tuple[int, int]] = []
    batch = engine.hidden(ids, blocked, chunk=chunk, on_chunk=lambda done, total: seen.append((done, total)))
    assert blocked.length == stepped.length == len(ids)
    assert seen[-1] == (len(ids), len(ids)) and len(seen) == -(-len(ids) // chunk)
    np.testing.assert_allclose(engine.logits(batch), engine.logits(one), rtol=1e-3, atol=1e-3)
    n = len(ids)
    np.testing.assert_allclose(blocked.k[:, :, :n], stepped.k[:, :, :n], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(blocked.v[:, :, :n], stepped.v[:, :, :n], rtol=1e-3, atol=1e-3)
    assert int(np.argmax(engine.logits(batch))) == int(np.argmax(engine.logits(one)))


def test_the_unshifted_softmax_gives_the_shifted_one(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded._engine
    ids = loaded.tokenizer.encode("A short note about the weather in Paris and in Rome. " * 8)
    results = []
    for exact in (True, False):
        engine.exact_softmax = exact
        try:
            results.append(engine.logits(engine.hidden(ids, engine.new_cache(len(ids)), chunk=32)))
        finally:
            engine.exact_softmax = False
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-4)


def test_a_prompt_pass_stopped_between_blocks_keeps_the_blocks_done(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded._engine
    ids = loaded.tokenizer.encode("One two three four five six seven eight nine ten eleven twelve")

    def stop(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt

    cache = engine.new_cache(len(ids))
    with pytest.raises(KeyboardInterrupt):
        engine.hidden(ids, cache, chunk=4, on_chunk=stop)
    assert cache.length == 8
    rest = engine.hidden(ids[8:], cache)  # continuing gives what one pass gives
    whole = engine.hidden(ids, engine.new_cache(len(ids)))
    np.testing.assert_allclose(rest, whole, rtol=1e-3, atol=1e-3)


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
