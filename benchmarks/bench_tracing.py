"""Tracing cost as a user gets it by default: whole-process CPU per ``agent.execute`` with the test model.

- ``tracing_total_cpu_ratio``: CPU time of the WHOLE process (every thread: the caller, the tracer's pass, the
  store's writer) per run with a started ``Tracer`` on a WAL SQLite store with the default retention
  (``tracing.retention_runs``, 1,000 root runs, exceeded during warm-up so every sample also pays the deletes),
  divided by the same with nothing recording. Each traced sample ends with ``tracer.flush()``, so all the
  recording work of its runs is inside the sample. Goal ≤ 1.25.
- ``tracing_memory_cpu_ratio``: the same with the tracer keeping traces in memory only (the notebook default).
- ``tracing_cpu_us_per_run``: the extra CPU per run with tracer + store; ``tracing_execute_cpu_us``: a run with
  nothing recording (the test model is the floor: with a real model the same work is a rounding error).
- ``tracing_caller_thread_ratio``: the calling thread alone (a best case: the tracer's work is off that path).

Samples interleave the settings (off, memory, store, off, ...) in one process; each ratio is the median of the
ratios of adjacent samples, so that load on a shared machine hits both sides alike. ``tracing_loadavg`` is the
1-minute load average when the module started (on a busy machine even CPU times wobble: read the ratios).
"""

from __future__ import annotations

import gc
import os
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

    load = os.getloadavg()[0]
    agent = Agent("bench", "question: str -> answer: str, confidence: float", model=TestModel())
    n, repeats = (200, 5) if quick else (250, 31)

    def batch() -> None:
        for _ in range(n):
            agent.execute(question="What is the capital of France?")

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "traces.db")  # the default retention from the configuration
        full = Tracer(store)
        memory = Tracer(store=False)
        batch()  # warm up every path; pass the retention limit so deletes are part of every sample
        for tracer in (full, memory):
            with tracer:
                for _ in range(max(1, 1500 // n)):
                    batch()
        cpu: dict[str, list[float]] = {"off": [], "memory": [], "store": []}
        caller: dict[str, list[float]] = {"off": [], "store": []}
        for _ in range(repeats):
            for name, tracer in (("off", None), ("memory", memory), ("store", full)):
                gc.collect()
                if tracer is not None:
                    tracer.start()
                c0, t0 = time.process_time(), time.thread_time()
                batch()
                thread = time.thread_time() - t0
                if tracer is not None:
                    tracer.flush()
                cpu[name].append((time.process_time() - c0) / n)
                if name in caller:
                    caller[name].append(thread / n)
                if tracer is not None:
                    tracer.stop()
        retained = store.count_runs(roots_only=True)
        store.close()
    off, mem, stored = (statistics.median(cpu[k]) for k in ("off", "memory", "store"))
    # ratios of adjacent samples (paired), then their median: drift in the machine's load cancels out
    figures: dict[str, Any] = {
        "tracing_total_cpu_ratio": round(statistics.median(s / o for s, o in zip(cpu["store"], cpu["off"],
                                                                                  strict=True)), 3),
        "tracing_memory_cpu_ratio": round(statistics.median(m / o for m, o in zip(cpu["memory"], cpu["off"],
                                                                                   strict=True)), 3),
        "tracing_cpu_us_per_run": round((stored - off) * 1e6, 1),
        "tracing_execute_cpu_us": round(off * 1e6, 1),
        "tracing_caller_thread_ratio": round(statistics.median(caller["store"]) / statistics.median(caller["off"]), 3),
        "tracing_runs_retained": float(retained),
        "tracing_loadavg": round(load, 2),
    }
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
