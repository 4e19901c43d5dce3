"""Model-layer floors: a keyless TestModel request, and the same request answered by the response caches."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

QA_SCHEMA = {
    "title": "QA", "type": "object", "required": ["answer", "confidence"],
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
}


def _messages() -> list[Any]:
    from kaizen_lab.models import Message

    return [Message("system", "Answer the question. Reply with JSON matching the schema."),
            Message("user", "What is the capital of France?"),
            Message("assistant", "Let me think about the question step by step.")]


async def _median_us(call: Callable[[], Awaitable[Any]], n: int, repeats: int) -> float:
    """Median over ``repeats`` batches of the mean µs per call in a batch of ``n`` (timer cost amortised)."""
    for _ in range(min(n, 200)):
        await call()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            await call()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.models import TestModel
    from kaizen_lab.models.cache import CachedModel, MemoryCache, SQLiteCache

    messages = _messages()
    n, repeats = (300, 5) if quick else (2000, 9)
    model = TestModel()
    memory = CachedModel(TestModel(), MemoryCache())

    async def main(sqlite_path: Path) -> dict[str, float]:
        sqlite = CachedModel(TestModel(), SQLiteCache(sqlite_path))
        out = {
            "test_model_request_us": await _median_us(
                lambda: model.request(messages, output_schema=QA_SCHEMA), n, repeats),
            "cached_memory_hit_us": await _median_us(
                lambda: memory.request(messages, output_schema=QA_SCHEMA), n, repeats),
            "cached_sqlite_hit_us": await _median_us(
                lambda: sqlite.request(messages, output_schema=QA_SCHEMA), n, repeats),
        }
        assert memory.misses == 1 and sqlite.misses == 1, "every timed cached call must be a hit"
        sqlite.cache.close()  # type: ignore[attr-defined]
        return out

    with tempfile.TemporaryDirectory(prefix="kaizen-bench-") as tmp:
        figures = asyncio.run(main(Path(tmp) / "cache.db"))
    return {k: round(v, 2) for k, v in figures.items()}


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
