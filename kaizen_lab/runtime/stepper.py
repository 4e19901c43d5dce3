"""``Stepper``: run a compiled Kailash workflow node by node (the engine behind the step-through debugger).

Two drivers behind one API:

- DAGs are stepped by hand: each node's inputs are resolved from its in-edges (dotted paths included) and the
  node's ``execute`` runs in the caller's thread. Outputs are plain dicts the user may edit before continuing,
  and replaying from a node keeps every earlier output.
- Workflows with cycles (patterns) run on ``LocalRuntime`` in a background thread. A ``TaskManager`` subclass
  sees every node start and end, inside cycles too, and parks the runner thread before each node until the
  user steps. ``PauseController`` is not read by the runtime, hence this hook.

In both, ``current_node`` is the node that runs next and breakpoints pause *before* their node.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kaizen_lab import events as ev
from kaizen_lab.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["NodeRecord", "Stepper", "workflow_edges"]

NodeStatus = Literal["pending", "running", "done", "failed", "skipped"]


@dataclass
class NodeRecord:
    """One node: its latest inputs/outputs and status (``calls`` counts runs, >1 inside cycles)."""

    node_id: str
    node_type: str
    status: NodeStatus = "pending"
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    duration_ms: float = 0.0
    started_at: float | None = None
    calls: int = 0
    iteration: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _build(workflow: Any) -> Any:
    return workflow.build() if hasattr(workflow, "build") and not hasattr(workflow, "graph") else workflow


def workflow_edges(workflow: Any) -> list[tuple[str, str, dict[str, str], bool]]:
    """``(source, target, mapping, is_cycle_edge)`` for every connection of a built workflow or builder."""
    wf = _build(workflow)
    return [(a, b, dict(d.get("mapping") or {}), bool(d.get("cycle"))) for a, b, d in wf.graph.edges(data=True)]


def _resolve(out: Any, path: str) -> Any:
    for part in path.split("."):
        out = out[part]
    return out


class _StopRun(Exception):
    """Raised inside the runner thread to abandon a background run."""


class Stepper:
    """Step through a compiled workflow.

    Args:
        workflow: a ``Workflow`` or ``WorkflowBuilder`` (agents: ``Stepper.for_agent``).
        inputs: flat inputs, given to every node that declares a parameter of that name.
        parameters: Kailash parameters keyed by node id (``{"node": {"x": 1}}``).
        breakpoints: node ids to pause before when continuing.

    Example::

        s = Stepper.for_agent(agent, question="2+2?")
        s.step()                       # runs "input", pauses before "model"
        s.set_output("input", {"inputs": {"question": "3+3?"}})
        s.continue_()
    """

    def __init__(self, workflow: Any, inputs: Mapping[str, Any] | None = None, *,
                 parameters: Mapping[str, Mapping[str, Any]] | None = None,
                 breakpoints: Iterable[str] = (), agent: Agent | None = None) -> None:
        self.workflow = _build(workflow)
        self.inputs = dict(inputs or {})
        self.parameters = {k: dict(v) for k, v in (parameters or {}).items()}
        self.agent = agent
        self.edges = workflow_edges(self.workflow)
        self.has_cycles = any(e[3] for e in self.edges)
        graph = self.workflow.graph
        self.node_types = {nid: data.get("type") or type(data.get("node")).__name__
                           for nid, data in graph.nodes(data=True)}
        self.order: list[str] = self._order()
        self.breakpoints: set[str] = set()
        for node_id in breakpoints:
            self.add_breakpoint(node_id)
        self._listeners: list[Callable[[Stepper], None]] = []
        self._runner: threading.Thread | None = None
        self._bucket_cm: Any = None
        self._reset()

    @classmethod
    def for_agent(cls, agent: Agent, **inputs: Any) -> Stepper:
        """A stepper over ``agent``'s three-node workflow (input → model → output)."""
        return cls(agent.to_workflow(), inputs, agent=agent)

    # -- state --------------------------------------------------------------------------------------------
    def _order(self) -> list[str]:
        if not self.has_cycles:
            order = self.workflow.get_execution_order()
            return list(order() if callable(order) else order)
        # cycles: order on the graph without its back edges
        from graphlib import TopologicalSorter

        deps: dict[str, set[str]] = {nid: set() for nid in self.node_types}
        for src, dst, _, cyc in self.edges:
            if not cyc:
                deps[dst].add(src)
        return list(TopologicalSorter(deps).static_order())

    def _reset(self) -> None:
        self.run_id = ev.new_id("step")
        self.nodes: dict[str, NodeRecord] = {nid: NodeRecord(nid, self.node_types[nid]) for nid in self.order}
        self.history: list[NodeRecord] = []
        self.results: dict[str, Any] = {}
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self.stopped = False
        self.finished = False
        self._index = 0
        self._current: str | None = self.order[0] if self.order else None
        self._gate: threading.Semaphore | None = None
        self._runner = None
        self._pauses: queue.Queue[str | None] = queue.Queue()
        self._stop_flag = False
        if self.has_cycles:
            self._current = None

    def _check(self, node_id: str) -> None:
        if node_id not in self.node_types:
            raise UserError(f"unknown node {node_id!r}{did_you_mean(node_id, list(self.node_types))}; "
                            f"nodes are {self.order}")

    @property
    def current_node(self) -> str | None:
        """The node that runs next (``None`` once finished or stopped)."""
        return None if self.finished or self.stopped else self._current

    @property
    def done(self) -> bool:
        return self.finished or self.stopped

    def status(self) -> dict[str, NodeStatus]:
        """Each node's status; the node about to run reads ``running``."""
        out: dict[str, NodeStatus] = {nid: rec.status for nid, rec in self.nodes.items()}
        if self.current_node is not None and out.get(self.current_node) == "pending":
            out[self.current_node] = "running"
        return out

    def add_breakpoint(self, node_id: str) -> None:
        self._check(node_id)
        self.breakpoints.add(node_id)

    def remove_breakpoint(self, node_id: str) -> None:
        self.breakpoints.discard(node_id)

    def on_change(self, fn: Callable[[Stepper], None]) -> Callable[[], None]:
        """Call ``fn(stepper)`` after every step, stop and restart; returns a remover."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn(self)

    # -- commands -----------------------------------------------------------------------------------------
    def step(self) -> NodeRecord | None:
        """Run the current node and pause before the next one; returns the record of the node that ran."""
        if self.done:
            raise UserError("the run is over; call restart() (or replay_from(node)) to step again")
        record = self._step_cycle() if self.has_cycles else self._step_dag()
        self._changed()
        return record

    def continue_(self) -> NodeRecord | None:
        """Run until the next breakpoint (pausing before it) or the end; returns the last record that ran."""
        last = None
        first = True
        while not self.done:
            if not first and self._current in self.breakpoints:
                break
            first = False
            last = self.step()
        return last

    def run_to(self, node_id: str) -> None:
        """Run until ``node_id`` is the current node (or the end)."""
        self._check(node_id)
        while not self.done and self._current != node_id:
            self.step()

    def stop(self) -> None:
        """Abandon the run; completed nodes keep their outputs."""
        if self.has_cycles and self._runner is not None and self._runner.is_alive():
            self._stop_flag = True
            if self._gate is not None:
                self._gate.release()
            self._runner.join(timeout=30)
        self.stopped = True
        self._close_events()
        self._changed()

    def restart(self) -> None:
        """Forget everything and start again from the first node (edited outputs are dropped)."""
        if self.has_cycles and self._runner is not None and self._runner.is_alive():
            self.stop()
        self._reset()
        self._changed()

    def set_output(self, node_id: str, outputs: Mapping[str, Any]) -> None:
        """Replace a completed node's outputs; nodes that have not run yet receive the edited values."""
        self._check(node_id)
        rec = self.nodes[node_id]
        if rec.outputs is None:
            raise UserError(f"node {node_id!r} has not run yet; step until it has, then edit its output")
        if self.has_cycles:
            # LocalRuntime hands a copy of each result downstream, so an edit here could not take effect
            raise UserError("editing outputs works on workflows without cycles; patterns run on LocalRuntime, "
                            "which does not let outputs be replaced mid-run")
        rec.outputs = dict(outputs)
        self.results[node_id] = rec.outputs
        self._changed()

    def replay_from(self, node_id: str) -> None:
        """Make ``node_id`` current again, keeping the outputs of every node before it (DAGs only)."""
        self._check(node_id)
        if self.has_cycles:
            raise UserError("replay_from works on workflows without cycles; for patterns use restart() "
                            "and run_to(node)")
        idx = self.order.index(node_id)
        for nid in self.order[idx:]:
            self.nodes[nid] = NodeRecord(nid, self.node_types[nid])
            self.results.pop(nid, None)
        self._index = idx
        self._current = node_id
        self.finished = self.stopped = False
        self.error = None
        self._changed()

    # -- DAG driver ---------------------------------------------------------------------------------------
    def _node_inputs(self, node_id: str) -> dict[str, Any]:
        node = self.workflow.get_node(node_id)
        declared = set(node.get_parameters())
        flat = {**self.inputs, "kaizen_run_id": self.run_id}
        values = {k: v for k, v in flat.items() if k in declared}
        values.update(self.parameters.get(node_id, {}))
        for src, dst, mapping, _ in self.edges:
            if dst != node_id:
                continue
            for frm, to in mapping.items():
                values[to] = _resolve(self.nodes[src].outputs or {}, frm)
        return values

    def _step_dag(self) -> NodeRecord:
        node_id = self.order[self._index]
        rec = self.nodes[node_id]
        rec.inputs = self._node_inputs(node_id)
        rec.started_at = time.time()
        rec.status = "running"
        t0 = time.perf_counter()
        with ev.collecting(self.run_id) as bucket:
            try:
                rec.outputs = dict(self.workflow.get_node(node_id).execute(**rec.inputs))
                rec.status = "done"
            except Exception as exc:  # noqa: BLE001 - shown on the node and kept on the stepper
                rec.status, rec.error, self.error = "failed", f"{type(exc).__name__}: {exc}", exc
        self.events.extend(bucket)
        rec.duration_ms = (time.perf_counter() - t0) * 1000
        rec.calls += 1
        self.history.append(copy.copy(rec))
        if rec.status == "failed":
            self.stopped = True
            for nid in self.order[self._index + 1:]:
                self.nodes[nid].status = "skipped"
            return rec
        self.results[node_id] = rec.outputs
        self._index += 1
        if self._index >= len(self.order):
            self.finished, self._current = True, None
        else:
            self._current = self.order[self._index]
        return rec

    # -- cycle driver (background runtime, parked by a TaskManager hook) ----------------------------------
    def _start_runner(self) -> None:
        from kailash.runtime.cancellation import CancellationToken
        from kailash.tracking import TaskManager, TaskStatus
        from kailash.tracking.storage.deferred import DeferredStorageBackend

        stepper = self
        token = CancellationToken()
        self._gate = threading.Semaphore(0)
        tasks: dict[str, tuple[str, int | None]] = {}

        class _Hooks(TaskManager):  # type: ignore[misc]
            def create_task(self, node_id: str, input_data: Any = None, metadata: Any = None,
                            **kw: Any) -> Any:
                task = super().create_task(node_id, input_data=input_data, metadata=metadata, **kw)
                meta = metadata or {}
                if "node_type" in meta:  # a real node (not a cycle group or iteration task)
                    real = node_id.split("_cycle_")[0] if meta.get("in_cycle") else node_id
                    tasks[task.task_id] = (real, meta.get("iteration"))
                    stepper._pauses.put(real)
                    assert stepper._gate is not None
                    if not stepper._stop_flag:
                        stepper._gate.acquire()
                    if stepper._stop_flag:
                        token.cancel("stopped from the debugger")
                        raise _StopRun("stopped from the debugger")
                    rec = stepper.nodes[real]
                    rec.status, rec.started_at, rec.iteration = "running", time.time(), meta.get("iteration")
                return task

            def update_task_status(self, task_id: str, status: Any, result: Any = None, error: Any = None,
                                   **kw: Any) -> None:
                super().update_task_status(task_id, status, result=result, error=error, **kw)
                if task_id not in tasks or status not in (TaskStatus.COMPLETED, TaskStatus.FAILED):
                    return
                real, iteration = tasks[task_id]
                rec = stepper.nodes[real]
                rec.duration_ms = (time.time() - (rec.started_at or time.time())) * 1000
                rec.calls += 1
                rec.iteration = iteration
                if status == TaskStatus.COMPLETED:
                    rec.status, rec.outputs = "done", result if isinstance(result, dict) else {"result": result}
                    stepper.results[real] = rec.outputs
                else:
                    rec.status, rec.error = "failed", str(error)
                stepper.history.append(copy.copy(rec))

        flat = {**self.inputs, "kaizen_run_id": self.run_id}
        params: dict[str, Any] = {**flat, **self.parameters}
        bucket_cm = ev.collecting(self.run_id)
        self._bucket_cm = bucket_cm
        self.events = bucket_cm.__enter__()

        def run() -> None:
            from kaizen_lab.runtime.execute import local_runtime

            try:
                results, _ = local_runtime().execute(self.workflow, parameters=params,
                                                     task_manager=_Hooks(storage_backend=DeferredStorageBackend()),
                                                     cancellation_token=token)
                self.results.update(results)
            except Exception as exc:  # noqa: BLE001 - reported through the stepper
                if not self._stop_flag:
                    self.error = exc
            finally:
                self._pauses.put(None)

        self._runner = threading.Thread(target=run, name="kaizen-stepper", daemon=True)
        self._runner.start()

    def _wait_pause(self) -> None:
        nxt = self._pauses.get(timeout=300)
        if nxt is None:
            self._current = None
            if self.error is not None:
                self.stopped = True
                for rec in self.nodes.values():
                    if rec.status == "pending":
                        rec.status = "skipped"
            else:
                self.finished = True
            self._close_events()
        else:
            self._current = nxt

    def _step_cycle(self) -> NodeRecord | None:
        if self._runner is None:
            self._start_runner()
            self._wait_pause()  # parked before the first node: make it current without running it
            if self.done:
                return None
        ran = self._current
        before = len(self.history)
        assert self._gate is not None
        self._gate.release()
        self._wait_pause()
        if len(self.history) > before:
            return self.history[-1]
        return self.nodes.get(ran) if ran else None

    def _close_events(self) -> None:
        cm = getattr(self, "_bucket_cm", None)
        if cm is not None:
            self._bucket_cm = None
            cm.__exit__(None, None, None)

    def prime(self) -> None:
        """Start a cycle workflow's runner so ``current_node`` is known before the first ``step``."""
        if self.has_cycles and self._runner is None and not self.done:
            self._start_runner()
            self._wait_pause()
            self._changed()

    # -- results ------------------------------------------------------------------------------------------
    def result(self) -> ExecutionResult:
        """The agent's ``ExecutionResult`` once an agent workflow has finished."""
        if self.agent is None:
            raise UserError("result() needs an agent; read stepper.results for a plain workflow")
        if not self.finished:
            raise UserError("the run has not finished; call continue_() first")
        from kaizen_lab.runtime.execute import WorkflowRun, result_from_workflow

        started = ev.RunStarted(run_id=self.run_id, agent_id=self.agent.agent_id, inputs=dict(self.inputs),
                                model=self.agent.model_label)
        total = sum(r.duration_ms for r in self.history)
        return result_from_workflow(self.agent, WorkflowRun(dict(self.results), self.run_id, list(self.events)),
                                    started, total, self.inputs)

    def __repr__(self) -> str:
        state = "finished" if self.finished else "stopped" if self.stopped else f"at {self._current!r}"
        return f"Stepper({len(self.order)} nodes, {state})"
