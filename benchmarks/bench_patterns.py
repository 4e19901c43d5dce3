"""Pattern overhead with TestModel agents: a 3 x 3 debate and a 5-agent consensus."""

from __future__ import annotations

import statistics
import time


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel
    from kaizen_lab.patterns import DEBATER_SIGNATURE, ConsensusPattern, DebatePattern

    debaters = [Agent(f"d{i}", DEBATER_SIGNATURE, model=TestModel(custom_output={"argument": "a", "position": str(i)}))
                for i in range(3)]
    debate = DebatePattern(debaters, rounds=3, converge=False)
    voters = [Agent(f"v{i}", "question -> answer: str, confidence: float", model=TestModel()) for i in range(5)]
    consensus = ConsensusPattern(voters)
    n = 20 if quick else 100

    def median_ms(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
        return statistics.median(samples)

    return {
        "debate_3x3_ms": round(median_ms(lambda: debate.run("topic")), 3),
        "consensus_5_ms": round(median_ms(lambda: consensus.run(question="q")), 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
