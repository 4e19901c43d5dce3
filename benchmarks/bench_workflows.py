"""Workflow figures: what the Kailash path costs next to the floor, as users call it.

- ``compiled_workflow_vs_trivial_ratio``: ``kaizen_lab.runtime.run_workflow`` of a prebuilt compiled signature
  workflow (input → model → output with the test model) over ``LocalRuntime.execute`` of three trivial
  registered nodes wired the same way, on the same runtime. Goal ≤ 1.5.
- ``run_workflow_vs_prebuilt_ratio``: ``agent.run_workflow(question=...)`` (what users call: the workflow is
  compiled once and cached on the agent) over ``run_workflow`` of the prebuilt workflow. Goal ≤ 1.2.
- ``compiled_workflow_cpu_ms``, ``trivial_workflow_cpu_ms``, ``agent_run_workflow_cpu_ms``: the parts.
- ``run_workflow_recompile_cpu_ms``: compiling and building the workflow on every call (what an uncached call
  costs; for comparison).

CPU time of the whole process per call; the settings are interleaved in one process and each ratio is the
median of the ratios of adjacent samples (load drift on a shared machine cancels out).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def _trivial_workflow() -> Any:
    from kailash.nodes.base import Node, NodeParameter, register_node
    from kailash.workflow.builder import WorkflowBuilder

    @register_node()
    class BenchTrivialNode(Node):
        """Passes ``x`` on (the floor of a registered node)."""

        def get_parameters(self) -> dict[str, NodeParameter]:
            return {"x": NodeParameter(name="x", type=dict, required=False, default={}, description="x")}

        def run(self, **kwargs: Any) -> dict[str, Any]:
            return {"x": kwargs.get("x") or {}}

    builder = WorkflowBuilder()
    for node_id in ("input", "model", "output"):
        builder.add_node("BenchTrivialNode", node_id, {})
    builder.add_connection("input", "x", "model", "x")
    builder.add_connection("model", "x", "output", "x")
    return builder.build()


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel
    from kaizen_lab.runtime import local_runtime, run_workflow

    load = os.getloadavg()[0]
    n, repeats = (50, 5) if quick else (60, 31)
    agent = Agent("qa", "question: str -> answer: str, confidence: float", model=TestModel())
    prebuilt = agent.to_workflow().build()
    trivial = _trivial_workflow()
    runtime = local_runtime()
    inputs = {"question": "What is Kaizen?"}

    def recompiled() -> None:
        run_workflow(agent.to_workflow().build(), inputs)

    cases: dict[str, Callable[[], Any]] = {
        "trivial": lambda: runtime.execute(trivial, parameters={}),
        "compiled": lambda: run_workflow(prebuilt, inputs),
        "agent": lambda: agent.run_workflow(**inputs),
        "recompile": recompiled,
    }
    for fn in cases.values():  # warm up
        for _ in range(20):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            gc.collect()
            c0 = time.process_time()
            for _ in range(n if name != "recompile" else max(1, n // 4)):
                fn()
            samples[name].append((time.process_time() - c0) / (n if name != "recompile" else max(1, n // 4)))
    m = {k: statistics.median(v) for k, v in samples.items()}

    def paired(a: str, b: str) -> float:  # median of the ratios of adjacent samples: load drift cancels out
        return round(statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True)), 3)

    return {
        "compiled_workflow_vs_trivial_ratio": paired("compiled", "trivial"),
        "run_workflow_vs_prebuilt_ratio": paired("agent", "compiled"),
        "compiled_workflow_cpu_ms": round(m["compiled"] * 1e3, 3),
        "trivial_workflow_cpu_ms": round(m["trivial"] * 1e3, 3),
        "agent_run_workflow_cpu_ms": round(m["agent"] * 1e3, 3),
        "run_workflow_recompile_cpu_ms": round(m["recompile"] * 1e3, 3),
        "workflows_loadavg": round(load, 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
