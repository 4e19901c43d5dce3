"""The prompt optimizer on the embedded local model: baseline and optimized scores on a shipped task."""

from __future__ import annotations

import json
import time
from pathlib import Path

DATA = Path(__file__).with_name("data") / "capitals.jsonl"


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.optimize import PromptOptimizer

    data = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    agent = Agent("capitals", "country: str -> capital: str", model="local",
                  instructions="Name the capital city of the country.")
    t0 = time.perf_counter()
    result = PromptOptimizer("normalized_match", max_demos=2, demo_sets=2 if quick else 3, propose_instructions=0,
                             budget=40 if quick else 80, seed=0, concurrency=1).optimize(agent, data)
    report = result.report
    return {
        "optimize_baseline_score": round(report.baseline.mean, 3),
        "optimize_optimized_score": round(report.optimized.mean, 3),
        "optimize_improvement": round(report.improvement, 3),
        "optimize_model_calls": report.calls_used,
        "optimize_wall_s": round(time.perf_counter() - t0, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
