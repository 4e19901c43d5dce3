"""Tracing overhead: ``agent.execute`` with the TestModel, with and without an active ``Tracer``.

Two figures, because the tracer moves its work off the caller's path:

- ``tracing_overhead_pct``: the CPU time the calling thread spends in ``agent.execute`` with an active tracer
  vs without (the listener's append and keeping the events until the background pass);
- ``tracing_total_cpu_overhead_pct``: ALL of the tracer's work charged, in CPU time of the whole process:
  each traced sample ends with ``tracer.flush()`` (spans built, payloads redacted, rows committed to a WAL
  SQLite file). ``tracing_cpu_us_per_run`` is that work per run. CPU time is what a loaded machine cannot
  distort. The TestModel run is the floor (~100 us); with a real model the same work is a rounding error.

Samples alternate between the two settings so load drift on a shared machine hits both alike.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel
    from kaizen_lab.store import RunStore
    from kaizen_lab.tracing import Tracer

    agent = Agent("bench", "question: str -> answer: str, confidence: float", model=TestModel())
    n, repeats = (200, 5) if quick else (500, 11)

    def batch() -> None:
        for _ in range(n):
            agent.execute(question="What is the capital of France?")

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "traces.db", max_runs=None)
        tracer = Tracer(store)
        batch()  # warm up both paths
        with tracer:
            batch()
        base_cpu, full_cpu, base_caller, traced_caller = [], [], [], []
        for _ in range(repeats):
            gc.collect()
            c0, t0 = time.process_time(), time.thread_time()
            batch()
            base_caller.append((time.thread_time() - t0) / n)
            base_cpu.append((time.process_time() - c0) / n)
            gc.collect()
            tracer.start()
            c0, t0 = time.process_time(), time.thread_time()
            batch()
            traced_caller.append((time.thread_time() - t0) / n)
            tracer.flush()
            full_cpu.append((time.process_time() - c0) / n)
            tracer.stop()
        stored = store.count_runs()
        store.close()
    b, f = statistics.median(base_cpu), statistics.median(full_cpu)
    bw, cw = statistics.median(base_caller), statistics.median(traced_caller)
    figures: dict[str, Any] = {
        "tracing_overhead_pct": round((cw - bw) / bw * 100, 1),
        "tracing_total_cpu_overhead_pct": round((f - b) / b * 100, 1),
        "tracing_cpu_us_per_run": round((f - b) * 1e6, 1),
        "tracing_execute_cpu_us": round(b * 1e6, 1),
        "tracing_runs_stored": float(stored),
    }
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
