"""Node spans for ANY Kailash workflow: a ``TaskManager`` that turns node start/end into events.

Kailash's ``on_node_complete`` hook misses failing nodes and everything inside cycles; its task manager sees
both. ``KaizenTaskManager`` keeps Kailash's tracking in memory (``DeferredStorageBackend``: nothing is
written to disk) and records ``StepStarted``/``StepFinished`` (``step="node"``) for every node, cycle and
cycle iteration, plus ``RunStarted``/``RunFinished`` for the workflow. It also tells active tracers the node
types and the workflow's connections, which the monitor needs for execution graphs and data flow.

It lives with the runtime (it is Kailash's side of the run), so tracing only consumes what it records;
``kaizen_lab.tracing`` still resolves ``KaizenTaskManager`` and ``trace_workflow`` by their old names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kailash.tracking.manager import TaskManager
from kailash.tracking.models import TaskStatus
from kailash.tracking.storage.deferred import DeferredStorageBackend

from kaizen_lab import events as ev
from kaizen_lab.tracing.spans import Trace
from kaizen_lab.tracing.tracer import GraphMeta, NodeMeta, Tracer, publish_meta

__all__ = ["KaizenTaskManager", "TracedWorkflow", "trace_workflow", "workflow_graph"]

_DONE: dict[Any, ev.Status] = {TaskStatus.COMPLETED: "ok", TaskStatus.FAILED: "error",
                               TaskStatus.CANCELLED: "cancelled"}
_RUN_DONE: dict[str, ev.Status] = {"completed": "ok", "failed": "error", "cancelled": "cancelled"}


def workflow_graph(workflow: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """``({node_id: node type}, [{source, target, from_output, to_input, cycle}])`` of a built workflow."""
    graph = workflow.graph
    nodes = {node_id: str(data.get("type") or type(data.get("node")).__name__)
             for node_id, data in graph.nodes(data=True)}
    edges = []
    for source, target, data in graph.edges(data=True):
        mapping = data.get("mapping") or {data.get("from_output", ""): data.get("to_input", "")}
        for from_output, to_input in mapping.items():
            edges.append({"source": source, "target": target, "from_output": from_output, "to_input": to_input,
                          "cycle": bool(data.get("cycle"))})
    return nodes, edges


def _run_id_from(metadata: Mapping[str, Any] | None) -> str | None:
    params = (metadata or {}).get("parameters") or {}
    if isinstance(params.get("kaizen_run_id"), str):
        return params["kaizen_run_id"]
    for value in params.values():  # parameters keyed by node id
        if isinstance(value, Mapping) and isinstance(value.get("kaizen_run_id"), str):
            return value["kaizen_run_id"]
    return None


class KaizenTaskManager(TaskManager):
    """Pass as ``run_workflow(wf, inputs, task_manager=KaizenTaskManager(...))`` to get node spans.

    Args:
        run_id: the run id the events use; default: the ``kaizen_run_id`` that ``run_workflow`` passes (when
            the workflow has a kaizen-lab node), else Kailash's own run id.
        workflow: the built workflow, so the trace knows node types and connections (execution graph, data flow).
        inputs: the workflow's inputs, recorded on the run (redacted by the tracer).
        emit_run_events: record ``RunStarted``/``RunFinished`` for the workflow run (turn off when the caller
            already announced the run).
    """

    def __init__(self, run_id: str | None = None, *, workflow: Any = None,
                 inputs: Mapping[str, Any] | None = None, emit_run_events: bool = True) -> None:
        super().__init__(storage_backend=DeferredStorageBackend())
        self.run_id = run_id
        self.workflow = workflow
        self.inputs = dict(inputs or {})
        self.emit_run_events = emit_run_events
        self._open: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._t0 = 0.0
        self._name = ""

    def create_run(self, workflow_name: str, metadata: dict[str, Any] | None = None) -> str:
        kailash_id = super().create_run(workflow_name, metadata)
        self.run_id = self.run_id or _run_id_from(metadata) or kailash_id
        self._name = workflow_name
        self._t0 = time.perf_counter()
        if self.workflow is not None:
            nodes, edges = workflow_graph(self.workflow)
            publish_meta(GraphMeta(self.run_id, workflow_name, nodes, edges))
        if self.emit_run_events:
            ev.record(ev.RunStarted(run_id=self.run_id, agent_id=f"workflow:{workflow_name}", inputs=self.inputs))
        return kailash_id

    def update_run_status(self, run_id: str, status: str, error: str | None = None) -> None:
        super().update_run_status(run_id, status, error)
        done = _RUN_DONE.get(str(status))
        if done and self.emit_run_events and self.run_id:
            ev.record(ev.RunFinished(run_id=self.run_id, agent_id=f"workflow:{self._name}", status=done,
                                     duration_ms=(time.perf_counter() - self._t0) * 1000, error=error,
                                     error_type="WorkflowError" if error else None))

    def create_task(self, node_id: str, input_data: dict[str, Any] | None = None,
                    metadata: dict[str, Any] | None = None, run_id: str = "test-run-id",
                    node_type: str = "default-node-type", dependencies: list[str] | None = None,
                    started_at: Any = None) -> Any:
        task = super().create_task(node_id, input_data, metadata, run_id, node_type, dependencies, started_at)
        rid = self.run_id or run_id
        meta = metadata or {}
        cycle_id = meta.get("cycle_id")
        iteration = meta.get("iteration")
        if node_type == "CycleGroup":
            name, kind, real_id = f"cycle:{cycle_id}", "cycle", node_id
        elif node_type == "CycleIteration":
            name, kind, real_id = f"cycle:{cycle_id}#{iteration}", "iteration", node_id
        else:
            suffix = f"_cycle_{cycle_id}_iteration_{iteration}"
            real_id = node_id[: -len(suffix)] if cycle_id is not None and node_id.endswith(suffix) else node_id
            name, kind = real_id, "node"
        publish_meta(NodeMeta(rid, name, real_id, node_type, kind, cycle_id, iteration))
        with self._lock:
            self._open[task.task_id] = (name, time.perf_counter())
        ev.record(ev.StepStarted(run_id=rid, step="node", name=name))
        return task

    def update_task_status(self, task_id: str, status: TaskStatus, result: dict[str, Any] | None = None,
                           error: str | None = None, ended_at: Any = None,
                           metadata: dict[str, Any] | None = None) -> None:
        super().update_task_status(task_id, status, result, error, ended_at, metadata)
        done = _DONE.get(status)
        if done is None:
            return
        with self._lock:
            opened = self._open.pop(task_id, None)
        if opened is None:
            return
        name, t0 = opened
        outputs = dict(result) if isinstance(result, Mapping) else ({"result": result} if result is not None else None)
        ev.record(ev.StepFinished(run_id=self.run_id or "", step="node", name=name, status=done,
                                  duration_ms=(time.perf_counter() - t0) * 1000, outputs=outputs, error=error))


@dataclass
class TracedWorkflow:
    """The workflow's results (``run``, a ``WorkflowRun``) and its ``trace``."""

    run: Any
    trace: Trace

    @property
    def results(self) -> dict[str, Any]:
        return self.run.results


def trace_workflow(workflow: Any, inputs: Mapping[str, Any] | None = None, *, tracer: Tracer | None = None,
                   parameters: Mapping[str, Any] | None = None, run_id: str | None = None) -> TracedWorkflow:
    """Run a workflow (any nodes, cycles too) on LocalRuntime with node spans, and return results and trace.

    Args:
        tracer: a started or stopped ``Tracer`` (default: a new in-memory one for this call).

    Raises:
        KaizenError: the workflow failed (the typed error from ``run_workflow``); the failed run is traced.
    """
    from kaizen_lab.runtime.execute import run_workflow

    wf = workflow.build() if hasattr(workflow, "build") and not hasattr(workflow, "graph") else workflow
    tracer = tracer or Tracer(store=False)
    started_here = not tracer.active
    if started_here:
        tracer.start()
    rid = run_id or ev.new_id("wf")
    manager = KaizenTaskManager(rid, workflow=wf, inputs=inputs)
    try:
        run = run_workflow(wf, inputs, parameters=parameters, run_id=rid, task_manager=manager)
    finally:
        if started_here:
            tracer.stop()
    return TracedWorkflow(run, tracer.get(rid))
