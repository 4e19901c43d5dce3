"""Panel figures: how long a Plotly panel takes to build in-process.

- ``graph_panel_build_ms``: ``graph_figure`` of a 50-node workflow (a chain plus skip connections, one cycle
  edge; goal ≤ 50 ms), including the layered layout and every node's hover text;
- ``graph_panel_kailash_build_ms``: the same for a real built Kailash ``Workflow`` of 50 nodes;
- ``timeline_panel_build_ms``: ``timeline_figure`` of one agent run's events.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_ms(fn: Callable[[], Any], n: int, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n * 1000)
    return statistics.median(samples)


def graph_50() -> dict[str, Any]:
    nodes = {f"n{i:02d}": "KaizenAgentNode" for i in range(50)}
    edges: list[tuple[str, str, dict[str, str], bool]] = [
        (f"n{i:02d}", f"n{i + 1:02d}", {"answer": "question"}, False) for i in range(49)]
    edges += [(f"n{i:02d}", f"n{i + 4:02d}", {"answer": "context"}, False) for i in range(0, 46, 5)]
    edges.append(("n49", "n40", {"answer": "feedback"}, True))
    return {"nodes": nodes, "edges": edges}


def kailash_50() -> Any:
    from kailash.workflow.builder import WorkflowBuilder

    builder = WorkflowBuilder()
    for i in range(50):
        builder.add_node("PythonCodeNode", f"n{i:02d}", {"code": "result = 1"})
    for i in range(49):
        builder.add_connection(f"n{i:02d}", "result", f"n{i + 1:02d}", "x")
    return builder.build()


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.notebook.panels import graph_figure, timeline_figure

    n = 3 if quick else 20
    data = graph_50()
    graph_figure(data)  # warm: plotly's lazy imports
    workflow = kailash_50()
    result = Agent("qa", "question -> answer", model="test").execute(question="q")
    return {
        "graph_panel_build_ms": _median_ms(lambda: graph_figure(data), n),
        "graph_panel_kailash_build_ms": _median_ms(lambda: graph_figure(workflow), n),
        "timeline_panel_build_ms": _median_ms(lambda: timeline_figure(result), n),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
