"""``TransparencyMonitor``: what agents and workflows did, as data (dataclasses and dicts, never text).

It starts a ``Tracer`` (``start_monitoring``) and answers from the run store (or from the tracer's memory
when it has no store): per agent, its history, latency percentiles, usage, cost and the decision trail of its
latest runs; per workflow run, the execution graph, node timings, what passed along each connection, and the
nodes that made up most of the critical path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.tracing.metrics import PerformanceMetrics, critical_path, performance_metrics, resource_usage
from kaizen_lab.tracing.spans import RunSummary, Span, Trace
from kaizen_lab.tracing.tracer import Tracer, trace_from_store

__all__ = ["AgentTransparency", "DecisionStep", "TransparencyMonitor", "WorkflowVisibility"]

_NODE_KINDS = ("node",)


@dataclass(frozen=True, slots=True)
class DecisionStep:
    """One model call, tool call, retry or checked step of a run, and why it ended the way it did."""

    run_id: str
    index: int
    step: str
    name: str
    start: float
    duration_ms: float | None
    status: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class AgentTransparency:
    agent_id: str
    execution_history: list[dict[str, Any]]
    performance_metrics: PerformanceMetrics
    decision_trail: list[DecisionStep]
    resource_usage: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "execution_history": self.execution_history,
                "performance_metrics": self.performance_metrics.to_dict(),
                "decision_trail": [d.to_dict() for d in self.decision_trail], "resource_usage": self.resource_usage}


@dataclass(slots=True)
class WorkflowVisibility:
    run_id: str
    execution_graph: dict[str, list[dict[str, Any]]]
    node_performance: list[dict[str, Any]]
    data_flow: list[dict[str, Any]]
    bottlenecks: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TransparencyMonitor:
    """Observe agents and workflows in this process.

    Args:
        tracer: an existing ``Tracer`` to read from (default: one created by ``start_monitoring``).
        store: where that tracer stores runs (a ``RunStore``, path, ``":memory:"``); default from ``config``.
        config: a ``KaizenConfig``.
    """

    def __init__(self, tracer: Tracer | None = None, *, store: Any = None, config: Any = None) -> None:
        self.config = config
        self._tracer = tracer
        self._store_arg = store

    @property
    def tracer(self) -> Tracer | None:
        return self._tracer

    @property
    def monitoring(self) -> bool:
        return self._tracer is not None and self._tracer.active

    def start_monitoring(self) -> TransparencyMonitor:
        """Record every run from now on (idempotent)."""
        if self._tracer is None:
            self._tracer = Tracer(self._store_arg, config=self.config)
        self._tracer.start()
        return self

    def stop_monitoring(self) -> None:
        """Stop recording; what was recorded stays queryable."""
        if self._tracer is not None:
            self._tracer.stop()

    # ------------------------------------------------------------------------------------------- reading
    def _need_tracer(self) -> Tracer:
        if self._tracer is None:
            raise UserError("the monitor has recorded nothing yet: call start_monitoring() before running agents")
        self._tracer.flush()
        return self._tracer

    def _agent_runs(self, agent_id: str, limit: int) -> list[RunSummary]:
        tracer = self._need_tracer()
        if tracer.store is not None:
            return [RunSummary.from_row(r) for r in tracer.store.runs(agent_id=agent_id, limit=limit)]
        return list(reversed(tracer.runs(agent_id=agent_id)))[:limit]

    def _known_agents(self) -> list[str]:
        tracer = self._need_tracer()
        if tracer.store is not None:
            return tracer.store.agent_ids()
        return sorted({r.agent_id for r in tracer.runs()})

    def _trace(self, run_id: str) -> Trace:
        tracer = self._need_tracer()
        try:
            return tracer.get(run_id)
        except KeyError:
            trace = trace_from_store(tracer.store, run_id) if tracer.store is not None else None
            if trace is None:
                raise UserError(f"no run {run_id!r} was recorded; runs are recorded while monitoring is on "
                                "(start_monitoring())") from None
            return trace

    def get_agent_transparency(self, agent_id: str, *, limit: int = 100, trail_runs: int = 5) -> AgentTransparency:
        """History, metrics, decision trail and resource usage of ``agent_id`` (its latest ``limit`` runs).

        Raises:
            UserError: no run of ``agent_id`` was recorded (the message suggests recorded agent ids).
        """
        runs = self._agent_runs(agent_id, limit)
        if not runs:
            known = self._known_agents()
            raise UserError(f"no runs of agent {agent_id!r} were recorded{did_you_mean(agent_id, known)}; "
                            f"recorded agents: {known or 'none'} (is monitoring on?)")
        trail: list[DecisionStep] = []
        spans: list[Span] = []
        for run in runs[:trail_runs][::-1]:
            trace = self._trace(run.run_id)
            own = [s for s in trace.spans if s.run_id == run.run_id]
            trail.extend(decision_trail(run, own))
            spans.extend(own)
        if len(runs) > trail_runs:  # usage per model/tool over every run, not only the ones in the trail
            tracer = self._need_tracer()
            # one store query for all of them, not one per run
            spans.extend(s for s in tracer.spans(run.run_id for run in runs[trail_runs:])
                         if s.kind in ("model", "tool"))
        return AgentTransparency(agent_id, [r.to_dict() for r in runs], performance_metrics(runs), trail,
                                 resource_usage(runs, spans))

    def get_decision_trail(self, run_id: str) -> list[DecisionStep]:
        """The decision trail of one run."""
        trace = self._trace(run_id)
        return decision_trail(trace.run, [s for s in trace.spans if s.run_id == run_id])

    def get_workflow_visibility(self, run_id: str) -> WorkflowVisibility:
        """Execution graph, node timings, data flow and bottlenecks of a workflow run (or an agent run's steps)."""
        trace = self._trace(run_id)
        return workflow_visibility(trace)


def decision_trail(run: RunSummary, spans: list[Span]) -> list[DecisionStep]:
    """Model calls, tool calls, retries and checked steps of one run, in order, with why each ended."""
    items: list[tuple[float, str, str, Span | None, dict[str, Any]]] = []
    for s in spans:
        if s.kind == "model":
            a = s.attributes
            tools = a.get("tool_calls") or []
            reason = f"error: {s.error}" if s.error else (
                f"{a.get('finish', 'stop')}: requested {', '.join(tools)}" if tools else a.get("finish", "stop"))
            items.append((s.start, "model", reason, s, {
                "attempt": a.get("attempt"), "tool_calls": tools, "input_tokens": a.get("input_tokens"),
                "output_tokens": a.get("output_tokens"), "cost": a.get("cost"), "cache_hit": a.get("cache_hit"),
                "text": (s.outputs or {}).get("text")}))
        elif s.kind == "tool":
            reason = f"error: {s.error}" if s.error else "returned"
            items.append((s.start, "tool", reason, s, {"arguments": s.inputs,
                                                        "result": (s.outputs or {}).get("result")}))
        elif s.kind == "step" and s.name in ("validate_inputs", "parse", "validate_outputs"):
            items.append((s.start, s.name, f"error: {s.error}" if s.error else "ok", s, {}))
    for retry in run.attributes.get("retries") or []:
        items.append((retry["ts"], "retry", retry["reason"], None, {"attempt": retry["attempt"]}))
    items.sort(key=lambda x: x[0])
    out = []
    for i, (start, step, reason, span, detail) in enumerate(items):
        out.append(DecisionStep(run.run_id, i, step, span.name if span else "retry", start,
                                span.duration_ms if span else None, span.status if span else "ok", reason, detail))
    return out


def _resolve(value: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _preview(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def workflow_visibility(trace: Trace) -> WorkflowVisibility:
    """``WorkflowVisibility`` of a trace: node spans when present, else the run's steps as a chain."""
    run_id = trace.run.run_id
    own = [s for s in trace.spans if s.run_id == run_id]
    units = [s for s in own if s.kind in _NODE_KINDS]
    source = "nodes"
    if not units:
        units = [s for s in own if s.kind == "step"]
        source = "steps"
    nodes: dict[str, dict[str, Any]] = {}
    outputs: dict[str, Any] = {}
    for s in sorted(units, key=lambda s: s.start):
        key = s.attributes.get("node_id", s.name) if source == "nodes" else s.name
        n = nodes.setdefault(key, {"id": key, "type": s.attributes.get("node_type", s.kind), "status": "ok",
                                   "start": s.start, "end": s.end, "duration_ms": 0.0, "calls": 0,
                                   "error": None})
        n["calls"] += 1
        n["duration_ms"] += s.duration_ms or 0.0
        n["end"] = max(n["end"] or s.start, s.end or s.start)
        if s.status != "ok":
            n["status"], n["error"] = s.status, s.error or n["error"]
        outputs[key] = s.outputs
    graph = trace.run.attributes.get("graph") or {}
    declared = [e for e in graph.get("edges", []) if e["source"] in nodes or e["target"] in nodes]
    for node_id, node_type in (graph.get("nodes") or {}).items():
        if node_id not in nodes:  # declared but never ran (skipped branch, failure upstream)
            nodes[node_id] = {"id": node_id, "type": node_type, "status": "not_run", "start": None, "end": None,
                              "duration_ms": 0.0, "calls": 0, "error": None}
    if declared:
        edges = [{**e, "status": nodes.get(e["target"], {}).get("status", "not_run"), "inferred": False}
                 for e in declared]
    else:
        order = [k for k in nodes if nodes[k]["start"] is not None]
        edges = [{"source": a, "target": b, "from_output": "", "to_input": "", "cycle": False,
                  "status": nodes[b]["status"], "inferred": True} for a, b in zip(order, order[1:], strict=False)]
    data_flow = []
    for e in edges:
        value = outputs.get(e["source"])
        value = _resolve(value, e["from_output"]) if e["from_output"] else value
        data_flow.append({"source": e["source"], "target": e["target"], "from_output": e["from_output"],
                          "to_input": e["to_input"], "value": value, "preview": _preview(value)})
    ran = {k: v["duration_ms"] for k, v in nodes.items() if v["calls"]}
    path = critical_path(ran, [(e["source"], e["target"]) for e in edges if not e.get("cycle")],
                         order=[k for k in nodes if nodes[k]["calls"]])
    total = sum(ran[n] for n in path) or 1.0
    bottlenecks = sorted(({"node_id": k, "duration_ms": d, "on_critical_path": k in path,
                           "critical_path_share": d / total if k in path else 0.0} for k, d in ran.items()),
                         key=lambda b: (-b["critical_path_share"], -b["duration_ms"]))
    for rank, b in enumerate(bottlenecks, 1):
        b["rank"] = rank
    all_ms = sum(ran.values()) or 1.0
    performance = sorted(({"node_id": k, "type": v["type"], "calls": v["calls"], "total_ms": v["duration_ms"],
                           "mean_ms": v["duration_ms"] / v["calls"], "share_of_node_time": v["duration_ms"] / all_ms,
                           "status": v["status"]} for k, v in nodes.items() if v["calls"]),
                         key=lambda p: -p["total_ms"])
    return WorkflowVisibility(run_id, {"nodes": list(nodes.values()), "edges": edges, "source": source},  # type: ignore[dict-item]
                              performance, data_flow, bottlenecks)
