"""Deployment figures: one authenticated API request end to end, and distributed workflow throughput.

- ``api_request_ms``: median latency of ``POST /workflows/<agent>/execute`` over keep-alive HTTP against a
  deployed TestModel agent (authentication, RBAC, validation, Nexus, the agent run, metrics).
- ``distributed_throughput_per_s``: compiled agent workflows completed per second by 2 ``kaizen-lab worker``
  processes on a throw-away Redis (submit to last result, median of several batches).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _quick(quick: bool) -> bool:
    return quick or os.environ.get("KAIZEN_BENCH_QUICK") == "1"


def api_request_ms(n: int) -> float:
    import httpx

    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import deploy_agent
    from kaizen_lab.security import KaizenSecurityManager

    security = KaizenSecurityManager({"rbac_enabled": True})
    key = security.create_api_key("bench", roles=["operator"])
    agent = Agent("bench", "question: str -> answer: str", model="test")
    with deploy_agent(agent, ["api"], auth=security) as service, \
            httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
        url = service.url_for("bench")
        for _ in range(20):
            client.post(url, json={"inputs": {"question": "warm"}}).raise_for_status()
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            client.post(url, json={"inputs": {"question": f"q{i}"}}).raise_for_status()
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def distributed_throughput_per_s(batch: int, batches: int) -> float:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.distributed import DistributedRunner
    from tests.fixtures.services import start_redis

    with start_redis() as url:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers = [subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "worker", "--redis", url, "--id",
                                     f"bench{i}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True) for i in (1, 2)]
        try:
            for proc in workers:
                if "ready" not in (proc.stdout.readline() if proc.stdout else ""):
                    raise RuntimeError("a benchmark worker did not start")
            agent = Agent("bench", "question: str -> answer: str", model="test")
            rates = []
            with DistributedRunner(url) as runner:
                runner.map(agent, [{"question": "warm"}] * 10, timeout=120)
                for _ in range(batches):
                    t0 = time.perf_counter()
                    runner.map(agent, [{"question": f"q{i}"} for i in range(batch)], timeout=300)
                    rates.append(batch / (time.perf_counter() - t0))
            return statistics.median(rates)
        finally:
            for proc in workers:
                proc.terminate()
            for proc in workers:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run(quick: bool = False) -> dict[str, Any]:
    fast = _quick(quick)
    return {"api_request_ms": api_request_ms(100 if fast else 500),
            "distributed_throughput_per_s": distributed_throughput_per_s(50 if fast else 200, 3)}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
