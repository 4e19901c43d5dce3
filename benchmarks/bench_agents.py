"""Agent overhead and concurrency with the keyless TestModel (the floor of what a real model adds to)."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from typing import Any

QA = "question: str -> answer: str, confidence: float"


def _agent() -> Any:
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel

    return Agent("bench", QA, model=TestModel())


def _median_us(fn: Any, n: int, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.models import Message, TestModel

    agent = _agent()
    for _ in range(200):
        agent.execute(question="warm")
    n = 300 if quick else 2000
    execute_us = _median_us(lambda: agent.execute(question="What is the capital of France?"), n)
    model = TestModel()
    schema = agent.signature.output_schema()
    msgs = [Message("system", "s"), Message("user", "q")]

    async def floor(k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            await model.request(msgs, output_schema=schema)
        return (time.perf_counter() - t0) / k * 1e6

    model_us = asyncio.run(floor(n))

    async def aexec_loop(k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            await agent.aexecute(question="q")
        return (time.perf_counter() - t0) / k * 1e6

    aexecute_us = asyncio.run(aexec_loop(n))

    async def concurrent(k: int) -> float:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(agent.aexecute(question=f"q{i}") for i in range(k)))
        assert len(results) == k
        return time.perf_counter() - t0

    c100 = statistics.median(asyncio.run(concurrent(100)) for _ in range(7)) * 1000
    c10k = statistics.median(asyncio.run(concurrent(10_000)) for _ in range(1 if quick else 3))

    slow = _agent()
    from kaizen_lab.models import TestModel as TM

    slow.model = TM(latency=0.2)

    async def inflight(k: int) -> float:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.ensure_future(slow.aexecute(question=f"q{i}")) for i in range(k)]
        await asyncio.sleep(0.1)  # all runs are now waiting on the model
        peak = tracemalloc.get_traced_memory()[0]
        await asyncio.gather(*tasks)
        tracemalloc.stop()
        return (peak - base) / k / 1024

    per_agent_kb = asyncio.run(inflight(2000))
    return {
        "agent_execute_overhead_us": round(execute_us - model_us, 1),
        "agent_execute_us": round(execute_us, 1),
        "agent_aexecute_us": round(aexecute_us, 1),
        "test_model_floor_us": round(model_us, 2),
        "concurrent_100_ms": round(c100, 2),
        "concurrent_10000_s": round(c10k, 3),
        "rss_per_inflight_agent_kb": round(per_agent_kb, 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
