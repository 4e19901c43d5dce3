"""Monitoring: what evaluating the alert rules costs, and what it adds to each served run.

- ``alert_evaluation_ms``: one evaluation (sample the registry + the 9 default rules) over 20 agents' metrics
  with full series (runs, latency buckets, tokens, retries), whole-process CPU time;
- ``alert_evaluation_cpu_pct``: that cost as a share of one core at the default 15 s interval;
- ``kernel_metrics_overhead_us``: whole-process CPU added to one ``execute`` (test model) by following the run's
  events into the metrics, measured as interleaved runs with and without the listener.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.run import repeats


def _cpu_per_call(fn: Any, n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.config import load_config
    from kaizen_lab.monitoring import ProductionMonitoring
    from kaizen_lab.monitoring.metrics import KernelMetrics

    config = load_config({"tracing": {"in_memory": True}})
    monitoring = ProductionMonitoring(config)
    metrics = monitoring.metrics_collector
    for i in range(20):
        agent = f"agent-{i:02d}"
        metrics.prepare(agent, "api")
        for k in range(50):
            metrics.observe_run(agent, "api", ok=k % 10 != 0, seconds=0.01 * (k % 7 + 1))
            metrics.observe_usage(agent, 100, 20, 0.0001)
    clock = {"now": 1000.0}
    monitoring.history.clock = lambda: clock["now"]
    monitoring.alert_manager.clock = lambda: clock["now"]

    def evaluate() -> None:
        clock["now"] += 15
        monitoring.evaluate()

    samples = [_cpu_per_call(evaluate, 5) for _ in range(repeats(15))]
    evaluation_ms = statistics.median(samples) * 1000

    agent = Agent("bench", "question: str -> answer: str", model="test")
    kernel = KernelMetrics()
    off, on = [], []
    n = repeats(200, 40)
    for _ in range(repeats(10)):
        off.append(_cpu_per_call(lambda: agent.execute(question="q"), n))
        kernel.start()
        on.append(_cpu_per_call(lambda: agent.execute(question="q"), n))
        kernel.stop()
    return {"alert_evaluation_ms": round(evaluation_ms, 3),
            "alert_evaluation_cpu_pct": round(evaluation_ms / 15_000 * 100, 4),
            "kernel_metrics_overhead_us": round((statistics.median(on) - statistics.median(off)) * 1e6, 1)}
