"""Scale-out on Kailash's DistributedRuntime: 200 agent workflows on 2 real worker processes over real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import ConfigError, KaizenTimeoutError, UserError
from kaizen_lab.integrations.distributed import DistributedRunner

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def workers(redis_url: str) -> Iterator[list[subprocess.Popen[str]]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "worker", "--redis", redis_url, "--id", f"w{i}",
                               "--import", "tests.integrations.upper_provider"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (1, 2)]
    for proc in procs:
        line = proc.stdout.readline()
        assert "ready" in line, proc.stderr.read()[-3000:] if proc.poll() is not None else line
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_two_hundred_workflows_on_two_workers(workers, redis_url: str) -> None:
    import redis

    import tests.integrations.upper_provider  # noqa: F401 - the producer resolves the model string too

    agent = Agent("dist", "question -> answer, pid: int", model="upper:v1")
    with DistributedRunner(redis_url) as runner:
        results = runner.map(agent, [{"question": f"item {i}"} for i in range(200)], timeout=120)
    assert [r.outputs["answer"] for r in results] == [f"ITEM {i}" for i in range(200)]
    by_worker = {r.worker_id for r in results}
    assert by_worker == {"w1", "w2"}
    assert {r.outputs["pid"] for r in results} == {p.pid for p in workers}
    assert all(r.results["input"]["inputs"]["question"].startswith("item ") for r in results)
    # results are kept in Redis by run id and can be fetched again
    with DistributedRunner(redis_url) as again:
        assert again.result(results[7].run_id).outputs["answer"] == "ITEM 7"

    # a compiled pattern (pattern nodes + agent nodes compiled with live references) runs on the workers too
    from kaizen_lab.patterns import ConsensusPattern

    voters = [Agent(f"voter{i}", "question -> answer, pid: int", model="upper:v1") for i in range(3)]
    consensus = ConsensusPattern(voters, decision_field="answer", confidence_field=None).to_workflow()
    with DistributedRunner(redis_url) as runner:
        outcome = runner.result(runner.submit(consensus, {"question": "yes"}), timeout=60)
    assert outcome["aggregate"]["decision"] == "YES"
    assert outcome["aggregate"]["reached"] is True

    # SIGTERM stops a worker cleanly: it deregisters (Kailash's Worker has no handler of its own)
    client = redis.Redis.from_url(redis_url)
    try:
        assert {m.decode() for m in client.smembers("kailash:workers")} >= {"w1", "w2"}
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(30) for proc in workers] == [0, 0]
        assert not {m.decode() for m in client.smembers("kailash:workers")} & {"w1", "w2"}
    finally:
        client.close()


def test_agents_with_model_objects_are_refused(redis_url: str) -> None:
    from kaizen_lab.models import TestModel
    from kaizen_lab.runtime.compiler import compile_agent

    with DistributedRunner(redis_url) as runner:
        with pytest.raises(UserError, match="give it a model string"):
            runner.submit(Agent("obj", "q -> a", model=TestModel()), {"q": "x"})
        with pytest.raises(UserError, match="whose model is an object only this process has"):
            runner.submit(compile_agent(Agent("live", "q -> a", model=TestModel())), {"q": "x"})


def test_missing_result_times_out_naming_the_worker_command(redis_url: str) -> None:
    with DistributedRunner(redis_url, queue="nobody-listens") as runner:
        run_id = runner.submit(Agent("idle", "q -> a", model="test"), {"q": "x"})
        t0 = time.monotonic()
        with pytest.raises(KaizenTimeoutError, match="kaizen-lab worker --redis redis://127.0.0.1"):
            runner.result(run_id, timeout=0.3)
        assert time.monotonic() - t0 < 5


def test_bad_redis_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="a Redis URL like redis://"):
        DistributedRunner("127.0.0.1:6379")


def test_worker_that_cannot_import_a_module_fails_by_name(redis_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kaizen_lab.cli", "worker", "--redis", redis_url, "--import",
                           "no_such_module_here"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "can't import 'no_such_module_here'" in done.stderr
