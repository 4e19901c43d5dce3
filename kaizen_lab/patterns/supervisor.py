"""``SupervisorPattern``: a router agent picks which worker handles a task.

Without a router of your own, one is built whose output is a ``Literal`` of the worker names, so a
schema-following model can only answer with a real worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.patterns._common import AgentFailure, PatternError, PatternRun, guarded_run

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["SupervisorPattern", "SupervisorResult"]


@dataclass(frozen=True)
class SupervisorResult:
    chosen: str
    reason: str
    result: ExecutionResult
    run_id: str
    duration_ms: float

    @property
    def outputs(self) -> dict[str, Any]:
        return self.result.data


class SupervisorPattern:
    """Route each task to one of ``workers`` (name → Agent) with ``router`` or a generated router."""

    name = "supervisor"

    def __init__(self, workers: Mapping[str, Agent], router: Agent | None = None, *, model: Any = None,
                 timeout: float | None = None) -> None:
        if not workers:
            raise UserError("a supervisor needs at least one worker")
        self.workers = dict(workers)
        self.timeout = timeout
        self.router = router or self._default_router(model)
        if "agent" not in self.router.signature.output_names:
            raise UserError(f"router {self.router.agent_id!r} must output a field 'agent' naming the worker")

    def _default_router(self, model: Any) -> Agent:
        import typing

        from kaizen_lab.agents.agent import Agent
        from kaizen_lab.signatures.fields import FieldSpec
        from kaizen_lab.signatures.signature import Signature

        names = tuple(self.workers)
        choice = typing.Literal[names]  # type: ignore[valid-type]
        menu = "\n".join(f"- {name}: {w.signature.instructions or str(w.signature)}" for name, w in self.workers.items())
        signature = Signature(
            inputs=[FieldSpec("task", str, "str", "the task to route")],
            outputs=[FieldSpec("agent", choice, f"Literal{list(names)}", "the worker to use", role="output"),
                     FieldSpec("reason", str, "str", "why this worker", role="output")],
            instructions=f"Choose the worker best suited to the task.\nWorkers:\n{menu}")
        return Agent("supervisor", signature, model=model)

    async def arun(self, **inputs: Any) -> SupervisorResult:
        run = PatternRun(self.name, inputs, deadline=None)
        task = inputs.get("task") or "\n".join(f"{k}: {v}" for k, v in inputs.items())
        try:
            routed = await guarded_run(self.router, {"task": task}, run, timeout=self.timeout)
            if isinstance(routed, AgentFailure):
                raise PatternError(f"the router failed: {routed.message}", partial={"failure": routed})
            chosen = str(routed.data["agent"])
            worker = self.workers.get(chosen)
            if worker is None:
                raise PatternError(f"the router chose {chosen!r}, which is not a worker"
                                   f"{did_you_mean(chosen, self.workers)}; workers: {sorted(self.workers)}",
                                   partial={"router": routed})
            worker_inputs = {k: v for k, v in inputs.items() if k in worker.signature.input_names}
            if not worker_inputs and worker.signature.input_names:
                worker_inputs = {worker.signature.input_names[0]: task}
            outcome = await guarded_run(worker, worker_inputs, run, timeout=self.timeout)
            if isinstance(outcome, AgentFailure):
                raise PatternError(f"worker {chosen!r} failed: {outcome.message}", partial={"router": routed})
        except Exception as exc:
            run.finish({}, exc)
            raise
        ms = run.finish({"chosen": chosen, **outcome.data})
        return SupervisorResult(chosen, str(routed.data.get("reason", "")), outcome, run.run_id, ms)

    def run(self, **inputs: Any) -> SupervisorResult:
        return run_sync(self.arun(**inputs))
