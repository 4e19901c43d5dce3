"""Scale-out: compiled workflows on Kailash's ``DistributedRuntime``, run by ``kaizen-lab worker`` processes.

The producer sends the workflow as ``Workflow.to_dict()`` JSON through Redis (no pickle); a worker rebuilds it
with ``Workflow.from_dict`` and runs it on ``LocalRuntime`` (monitoring off). A worker can only rebuild nodes
whose classes are registered in its process, and when it can't, Kailash retries three times and reports only
"Exceeded max attempts", so ``worker_main`` imports kaizen-lab's node modules (and any ``--import`` modules)
before it starts. Agents travel as JSON config (signature, model string), so their model must be a string.
Results are polled by run id (``get_result``); ``DistributedRunner.result`` turns failures into typed errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.errors import AgentRunError, ConfigError, KaizenTimeoutError, UserError, redacted_cause

__all__ = ["NODE_MODULES", "DistributedResult", "DistributedRunner", "run_distributed", "worker_command",
           "worker_main"]

#: modules whose import registers kaizen-lab's Kailash nodes (a worker imports them before taking tasks)
NODE_MODULES = ("kaizen_lab.runtime.nodes", "kaizen_lab.patterns.nodes")


@dataclass(frozen=True)
class DistributedResult:
    """A finished distributed run: results by node id, which worker ran it, and how long it took."""

    run_id: str
    results: dict[str, Any]
    worker_id: str
    execution_time: float

    @property
    def outputs(self) -> dict[str, Any]:
        """The agent's output fields (the ``output`` node of a compiled agent), else every node's results."""
        out = self.results.get("output")
        return dict(out) if isinstance(out, dict) else dict(self.results)

    def __getitem__(self, node_id: str) -> Any:
        return self.results[node_id]


def _check_redis_url(url: str) -> str:
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"a Redis URL like redis://127.0.0.1:6379/0 is needed, got {url!r}", path="redis_url",
                          value=url)
    return url


def _serializable_workflow(workflow: Any) -> Any:
    """A built ``Workflow`` whose node configs are plain JSON.

    Agents referenced live in this process (``kaizen_agent_ref``, as compiled patterns do) travel as their JSON
    config when their model is a string; a model object can't leave the process, so that is refused.
    """
    from kailash.workflow.graph import Workflow

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.runtime.nodes import REF_KEY

    if isinstance(workflow, Agent):
        if not workflow.model_spec:
            raise UserError(f"agent {workflow.agent_id!r} has a model object; workers rebuild agents from JSON, "
                            "so give it a model string such as 'test', 'local' or 'openai:gpt-4o-mini'")
        from kaizen_lab.runtime.compiler import compile_agent

        workflow = compile_agent(workflow, live=False)
    built = workflow.build() if hasattr(workflow, "build") and not hasattr(workflow, "graph") else workflow
    data = built.to_dict()
    stripped = False
    for node_id, node in data.get("nodes", {}).items():
        config = node.get("config") or {}
        if config.get(REF_KEY):
            if not config.get("kaizen_model"):
                raise UserError(f"node {node_id!r} runs agent {config.get('kaizen_agent_id')!r}, whose model is an "
                                "object only this process has; give the agent a model string (e.g. 'test', "
                                "'openai:gpt-4o-mini') to run it on workers")
            config.pop(REF_KEY)
            stripped = True
    return Workflow.from_dict(data) if stripped else built


class DistributedRunner:
    """Submit workflows to Redis-backed workers and fetch their results by run id.

    Args:
        redis_url: ``redis://host:port/db`` shared with the workers.
        queue: the queue name the workers listen on.
        result_ttl: seconds Redis keeps a result.

    Example:
        >>> runner = DistributedRunner("redis://127.0.0.1:6379/0")              # doctest: +SKIP
        >>> run_id = runner.submit(agent, {"question": "2+2?"})                # doctest: +SKIP
        >>> runner.result(run_id, timeout=30).outputs                         # doctest: +SKIP
    """

    def __init__(self, redis_url: str, *, queue: str = "default", result_ttl: int = 3600) -> None:
        from kailash.runtime.distributed import DistributedRuntime

        self.redis_url = _check_redis_url(redis_url)
        self.runtime = DistributedRuntime(redis_url=redis_url, default_queue=queue, result_ttl=result_ttl,
                                          enable_monitoring=False)
        self._wf_cache: dict[int, Any] = {}

    def submit(self, workflow: Any, inputs: Mapping[str, Any] | None = None, *,
               parameters: Mapping[str, Any] | None = None) -> str:
        """Queue one run of ``workflow`` (an Agent, ``WorkflowBuilder`` or ``Workflow``); returns its run id."""
        key = id(workflow)
        built = self._wf_cache.get(key)
        if built is None or built[0] is not workflow:
            built = (workflow, _serializable_workflow(workflow))
            self._wf_cache[key] = built
        params: dict[str, Any] = {**dict(inputs or {}), "kaizen_run_id": ev.new_id("dist")}
        params.update(parameters or {})
        try:
            status, run_id = self.runtime.execute(built[1], parameters=params)
        except Exception as exc:
            raise AgentRunError(f"could not queue the workflow on {self.redis_url}: {exc}") from redacted_cause(exc)
        return str(run_id or status.get("run_id"))

    def poll(self, run_id: str) -> DistributedResult | None:
        """The result if the run has finished, else ``None``; raises ``AgentRunError`` if it failed."""
        result = self.runtime.get_result(run_id)
        if result is None:
            return None
        if result.status != "completed":
            hint = (" (a worker could not run it: check that every worker imports the modules registering the "
                    "workflow's nodes, e.g. kaizen-lab worker --import mymodule, and see the worker's log)"
                    if "max attempts" in (result.error or "") else "")
            raise AgentRunError(f"distributed run {run_id} {result.status} on worker {result.worker_id or '?'}: "
                                f"{result.error}{hint}")
        return DistributedResult(run_id, dict(result.result_data or {}), result.worker_id, result.execution_time)

    def result(self, run_id: str, *, timeout: float | None = 60.0, interval: float = 0.02) -> DistributedResult:
        """Wait for ``run_id`` to finish (polling) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.poll(run_id)
            if found is not None:
                return found
            if deadline is not None and time.monotonic() > deadline:
                raise KaizenTimeoutError(f"distributed run {run_id} did not finish within {timeout}s; are workers "
                                         f"running? start some with: kaizen-lab worker --redis {self.redis_url}",
                                         seconds=timeout)
            time.sleep(interval)

    def map(self, workflow: Any, items: Iterable[Mapping[str, Any]], *,
            timeout: float | None = 120.0) -> list[DistributedResult]:
        """Submit one run per input dict, then collect every result in input order."""
        ids = [self.submit(workflow, item) for item in items]
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = dict.fromkeys(ids)
        while any(v is None for v in pending.values()):
            for run_id, value in pending.items():
                if value is None:
                    pending[run_id] = self.poll(run_id)
            if any(v is None for v in pending.values()):
                if deadline is not None and time.monotonic() > deadline:
                    left = sum(v is None for v in pending.values())
                    raise KaizenTimeoutError(f"{left} of {len(ids)} distributed runs did not finish within "
                                             f"{timeout}s; start more workers or raise timeout=", seconds=timeout)
                time.sleep(0.02)
        return [pending[i] for i in ids]  # type: ignore[misc]

    def queue_status(self) -> dict[str, Any]:
        return dict(self.runtime.get_queue_status())

    def close(self) -> None:
        self.runtime.close()

    def __enter__(self) -> DistributedRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_distributed(workflow: Any, inputs: Mapping[str, Any] | None = None, *, redis_url: str,
                    timeout: float | None = 120.0) -> dict[str, Any]:
    """Run ``workflow`` once on the workers behind ``redis_url``; returns its results by node id."""
    with DistributedRunner(redis_url) as runner:
        return runner.result(runner.submit(workflow, inputs), timeout=timeout).results


# ------------------------------------------------------------------------------------------------ worker


def import_node_modules(extra: Sequence[str] = ()) -> list[str]:
    """Import kaizen-lab's node modules and ``extra`` ones; returns their names (fails loudly, by name)."""
    names = [*NODE_MODULES, *extra]
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"the worker can't import {name!r} ({exc}); it registers nodes the workflows need, "
                              "so run the worker where that module is importable", path="import", value=name) \
                from None
    return names


async def worker_main(redis_url: str, *, concurrency: int = 1, worker_id: str | None = None,
                      queue: str = "default", imports: Sequence[str] = (), stop: asyncio.Event | None = None) -> None:
    """Run one worker until ``stop`` is set (or forever); registers kaizen-lab's nodes first."""
    from kailash.runtime.distributed import Worker

    from kaizen_lab.runtime.execute import local_runtime

    _check_redis_url(redis_url)
    import_node_modules(imports)
    queues: dict[str, Any] | None = None if queue == "default" else {queue: concurrency}
    worker = Worker(redis_url=redis_url, concurrency=concurrency, worker_id=worker_id,
                    runtime_factory=lambda: local_runtime(), queues=queues)
    task = asyncio.ensure_future(worker.start())
    try:
        if stop is None:
            await task
        else:
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        await worker.stop()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def worker_command(argv: Sequence[str]) -> int:
    """``kaizen-lab worker --redis URL [--concurrency N] [--id NAME] [--queue Q] [--import MODULE ...]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab worker",
                                     description="Run distributed workflow tasks from a Redis queue.")
    parser.add_argument("--redis", default=os.environ.get("KAIZEN_REDIS_URL", ""),
                        help="Redis URL (default: $KAIZEN_REDIS_URL)")
    parser.add_argument("--concurrency", type=int, default=1, help="tasks run at once (default 1)")
    parser.add_argument("--id", default=None, help="worker id (default: generated)")
    parser.add_argument("--queue", default="default", help="queue name (default 'default')")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="also import MODULE (registers its Kailash nodes); repeatable")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        raise UserError(f"--concurrency must be at least 1, got {args.concurrency}")
    _check_redis_url(args.redis)
    worker_id = args.id or f"kaizen-worker-{os.getpid()}"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # Kailash's Worker installs none: deregister cleanly
            loop.add_signal_handler(sig, stop.set)
        print(f"worker {worker_id} ready on {args.queue!r} ({args.concurrency} at once)", flush=True)
        await worker_main(args.redis, concurrency=args.concurrency, worker_id=worker_id, queue=args.queue,
                          imports=args.imports, stop=stop)

    import_node_modules(args.imports)
    asyncio.run(main())
    return 0
