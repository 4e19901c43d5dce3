"""Run workflows on Kailash's ``LocalRuntime`` (monitoring off) and bridge them to kaizen-lab's events.

``run_workflow`` checks flat inputs against the signatures of the entry nodes (unknown names get a
"did you mean"), gives the run an id (Kailash returns ``None`` with monitoring off), collects every event the
kaizen-lab nodes record, and turns Kailash's wrapped exceptions back into the typed kaizen-lab error,
with the events attached.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab import events as ev
from kaizen_lab.errors import AgentRunError, KaizenError, UserError, did_you_mean, redacted_cause

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["WorkflowRun", "arun_workflow", "local_runtime", "run_agent_workflow", "run_workflow"]

_local = threading.local()
_ENTRY_TYPES = {"KaizenInputNode", "KaizenAgentNode"}
_ENTRIES: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def _quiet_kailash() -> None:
    # LocalRuntime resets kailash.runtime.base to INFO and prints tracebacks through the last-resort handler;
    # kaizen-lab reports failures as typed errors instead.
    logger = logging.getLogger("kailash")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def local_runtime(**options: Any) -> Any:
    """A ``LocalRuntime`` with monitoring off, one per thread (construction is not free)."""
    from kailash.runtime.local import LocalRuntime

    if options:
        _quiet_kailash()
        return _quiet_runtime(LocalRuntime(enable_monitoring=False, content_aware_success_detection=False,
                                           **options).mark_externally_managed(), options)
    rt = getattr(_local, "runtime", None)
    if rt is None:
        _quiet_kailash()
        rt = LocalRuntime(enable_monitoring=False, content_aware_success_detection=False)
        rt = _quiet_runtime(rt.mark_externally_managed(), {})
        _local.runtime = rt
    return rt


def _quiet_runtime(rt: Any, options: Mapping[str, Any]) -> Any:
    # LocalRuntime sets its logger to INFO; every run then builds ~8 log records that no handler wants
    logger = getattr(rt, "logger", None)
    if logger is not None and not options.get("debug"):
        logger.setLevel(logging.WARNING)
    return rt


@dataclass
class WorkflowRun:
    """Results of a workflow run keyed by node id, its run id, and the kaizen-lab events it recorded."""

    results: dict[str, Any]
    run_id: str
    events: list[Any] = field(default_factory=list)

    def __getitem__(self, node_id: str) -> Any:
        return self.results[node_id]


def _build(workflow: Any) -> Any:
    return workflow.build() if hasattr(workflow, "build") and not hasattr(workflow, "graph") else workflow


def _entry_nodes(workflow: Any) -> dict[str, tuple[str, ...]]:
    """Entry nodes (kaizen-lab input/agent nodes with no incoming connection) and their input names.

    Remembered per built workflow (and per signature of each entry node, which a live agent may change)."""
    nodes = [(node_id, data["node"]) for node_id, data in workflow.graph.nodes(data=True)
             if data.get("type") in _ENTRY_TYPES] if workflow not in _ENTRIES else _ENTRIES[workflow][0]
    signatures = tuple(node._signature() for _, node in nodes)
    key = (workflow.graph.number_of_edges(), *map(id, signatures))
    cached = _ENTRIES.get(workflow)
    if cached is not None and cached[1] == key:
        return cached[2]
    entries = {node_id: sig.input_names for (node_id, _), sig in zip(nodes, signatures, strict=True)
               if not list(workflow.graph.predecessors(node_id))}
    try:
        _ENTRIES[workflow] = (nodes, key, entries, signatures)
    except TypeError:  # not weak-referenceable: computed again next time
        pass
    return entries


_RUN_ID_NODES: weakref.WeakKeyDictionary[Any, tuple[int, tuple[str, ...]]] = weakref.WeakKeyDictionary()


def _run_id_nodes(workflow: Any) -> tuple[str, ...]:
    """Ids of the nodes declaring ``kaizen_run_id`` (kaizen-lab's step, agent and pattern nodes), per workflow."""
    size = workflow.graph.number_of_nodes()
    cached = _RUN_ID_NODES.get(workflow)
    if cached is not None and cached[0] == size:
        return cached[1]
    ids = []
    for node_id, data in workflow.graph.nodes(data=True):
        node = data.get("node")
        try:
            if node is not None and "kaizen_run_id" in node.get_parameters():
                ids.append(node_id)
        except Exception:  # noqa: BLE001, S112 - a node that cannot list its parameters takes no run id
            continue
    try:
        _RUN_ID_NODES[workflow] = (size, tuple(ids))
    except TypeError:  # not weak-referenceable: computed again next time
        pass
    return tuple(ids)


def _check_inputs(entries: Mapping[str, tuple[str, ...]], inputs: Mapping[str, Any]) -> None:
    """Flat inputs must name an input of some entry node."""
    if not entries:
        return
    if len(entries) == 1:  # the common case: one entry node, its names as they are
        names: Any = next(iter(entries.values()))
        if all(key in names for key in inputs):
            return
    names = {n for names in entries.values() for n in names}
    for key in inputs:
        if key not in names:
            raise UserError(f"unknown input {key!r}{did_you_mean(key, names)}; this workflow takes {sorted(names)}")


def _unwrap(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KaizenError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return exc


def _prepare(workflow: Any, inputs: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None,
             run_id: str | None) -> tuple[Any, dict[str, Any], str]:
    wf = _build(workflow)
    inputs = dict(inputs or {})
    entries = _entry_nodes(wf)
    _check_inputs(entries, inputs)
    rid = run_id or ev.new_id("wf")
    # the run id goes to each node that takes it, keyed by node: a flat parameter would send every run through
    # Kailash's workflow-level parameter injection (several times the cost of the nodes' own parameters)
    params: dict[str, Any] = {node_id: {"kaizen_run_id": rid} for node_id in _run_id_nodes(wf)}
    if entries:
        # keyed by node: Kailash maps flat values onto similarly named parameters of every node
        for node_id, names in entries.items():
            params.setdefault(node_id, {}).update((k, v) for k, v in inputs.items() if k in names)
    else:
        params.update(inputs)
    for key, value in (parameters or {}).items():
        if isinstance(value, Mapping) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    return wf, params, rid


def _raise_typed(exc: BaseException, bucket: list[Any]) -> None:
    cause = _unwrap(exc)
    if isinstance(cause, KaizenError):
        cause.events = list(bucket) or cause.events
        raise cause from redacted_cause(exc)
    raise AgentRunError(f"workflow failed: {type(exc).__name__}: {exc}", events=bucket) from redacted_cause(exc)


def run_workflow(workflow: Any, inputs: Mapping[str, Any] | None = None, *,
                 parameters: Mapping[str, Any] | None = None, run_id: str | None = None,
                 runtime: Any = None, **execute_options: Any) -> WorkflowRun:
    """Execute a ``Workflow`` or ``WorkflowBuilder`` on LocalRuntime and return results, run id and events.

    Args:
        inputs: flat inputs (``{"question": "..."}``), checked against the entry nodes' signatures.
        parameters: extra Kailash parameters, flat or keyed by node id.
        execute_options: passed to ``LocalRuntime.execute`` (e.g. ``task_manager=``).
    """
    wf, params, rid = _prepare(workflow, inputs, parameters, run_id)
    rt = runtime or local_runtime()
    with ev.collecting(rid) as bucket:
        try:
            results, _ = rt.execute(wf, parameters=params, **execute_options)
        except Exception as exc:
            _raise_typed(exc, bucket)
        _raise_failed_leaves(results, bucket)
        return WorkflowRun(results, rid, bucket)


async def arun_workflow(workflow: Any, inputs: Mapping[str, Any] | None = None, *,
                        parameters: Mapping[str, Any] | None = None, run_id: str | None = None) -> WorkflowRun:
    """Async form of ``run_workflow`` (``LocalRuntime.execute_async``; fine inside a notebook's loop)."""
    wf, params, rid = _prepare(workflow, inputs, parameters, run_id)
    with ev.collecting(rid) as bucket:
        try:
            results, _ = await local_runtime().execute_async(wf, parameters=params)
        except Exception as exc:
            _raise_typed(exc, bucket)
        _raise_failed_leaves(results, bucket)
        return WorkflowRun(results, rid, bucket)


def _raise_failed_leaves(results: Mapping[str, Any], bucket: list[Any]) -> None:
    # a failing leaf node does not raise in Kailash: its result carries the exception instead
    for node_id, value in results.items():
        if isinstance(value, dict) and value.get("failed") and "_exception" in value:
            exc = value["_exception"]
            cause = _unwrap(exc)
            if isinstance(cause, KaizenError):
                cause.events = list(bucket)
                cause.partial = {k: v for k, v in results.items() if k != node_id}
                raise cause
            raise AgentRunError(f"node {node_id!r} failed: {value.get('error')}", events=bucket,
                                partial=dict(results))


def run_agent_workflow(agent: Agent, inputs: Mapping[str, Any]) -> ExecutionResult:
    """Run ``agent`` through its compiled three-node workflow; the result matches ``agent.execute``.

    The workflow is compiled once and cached on the agent (rebuilt when its signature or config changes).
    """
    import time

    from kaizen_lab.runtime.compiler import compiled_agent_workflow

    rid = ev.new_id()
    t0 = time.perf_counter()
    started = ev.RunStarted(run_id=rid, agent_id=agent.agent_id, inputs=dict(inputs), model=agent.model_label)
    ev.record(started)
    try:
        run = run_workflow(compiled_agent_workflow(agent), inputs, run_id=rid)
    except KaizenError as exc:
        finished = ev.RunFinished(run_id=rid, agent_id=agent.agent_id, status="error",
                                  duration_ms=(time.perf_counter() - t0) * 1000, error=str(exc),
                                  error_type=type(exc).__name__)
        ev.record(finished)
        exc.events = [started, *exc.events, finished]
        raise
    return result_from_workflow(agent, run, started, (time.perf_counter() - t0) * 1000, inputs)


def result_from_workflow(agent: Agent, run: WorkflowRun, started: Any, duration_ms: float,
                         inputs: Mapping[str, Any]) -> ExecutionResult:
    """An ``ExecutionResult`` from the three-node workflow's results and the events its nodes recorded."""
    from kaizen_lab.agents.result import ExecutionResult, RunMetadata

    outputs = dict(run.results["output"])
    usage = run.results["model"]["usage"]
    step_ms: dict[str, float] = {}
    for event in run.events:
        if event.kind == "step_finished":
            step_ms[event.step] = step_ms.get(event.step, 0.0) + event.duration_ms
    finished = ev.RunFinished(run_id=run.run_id, agent_id=agent.agent_id, status="ok", outputs=outputs,
                              duration_ms=duration_ms)
    ev.record(finished)
    meta = RunMetadata(run.run_id, agent.agent_id, agent.model_label, duration_ms, step_ms,
                       usage["input_tokens"], usage["output_tokens"], usage["cost"], usage["retries"],
                       usage["model_calls"], usage["tool_calls"], usage["cache_hits"],
                       answer_logprob=usage.get("answer_logprob"))
    validated = next((e.outputs for e in run.events if e.kind == "step_finished"
                      and e.step == "validate_inputs"), None)
    return ExecutionResult(outputs, meta, [started, *run.events, finished], validated or dict(inputs))
