"""The tracer's records: per-run builder state, Kailash bridge metadata, and serialisation (events to dicts,
payloads to JSON in one pass, compact event rows and back, traces rebuilt from the store).

Kept apart from ``tracer.py`` so the span-building logic there reads on its own.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from kaizen_lab.tracing.spans import RunSummary, Span, Trace

__all__ = ["GraphMeta", "NodeMeta", "compact_event", "encode_all", "event_dict", "expand_event", "trace_from_store"]


def event_dict(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


_dumps = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode
# Encoding many values in one call is several times cheaper than one call each; this marker (random per
# process, so no payload contains it by accident) separates them in the output.
_SEP_VALUE = f"kaizen-sep-{uuid.uuid4().hex}"  # plain ASCII: the encoder's fast path
_SEP = "," + _dumps(_SEP_VALUE) + ","


# what an event row keeps: the rest is in its span (or the run row) and is put back by ``expand_event``
_KEEP = {"run_started": ("agent_id", "model", "parent_run_id"), "run_finished": ("agent_id",),
         "step_started": ("step", "name"), "step_finished": ("step", "name"), "model_called": ("model", "attempt"),
         "tool_called": ("tool", "source"), "retried": ("attempt", "reason")}


def compact_event(event: Any, span_id: str | None) -> dict[str, Any]:
    data = {name: getattr(event, name) for name in _KEEP.get(event.kind, ())}
    if span_id is not None:
        data["span_id"] = span_id
    return data


def expand_event(row: dict[str, Any], spans: dict[str, Span]) -> dict[str, Any]:
    """The full event dict from a compact event row and the spans it points at."""
    data = json.loads(row["data"]) if row["data"] else {}
    kind = row["kind"]
    span = spans.get(data.pop("span_id", None) or "")
    event: dict[str, Any] = {"run_id": row["run_id"], **data}
    if span is not None:
        if kind == "run_started":
            event["inputs"] = span.inputs
        elif kind in ("run_finished", "step_finished"):
            event.update(status=span.status, duration_ms=span.duration_ms, outputs=span.outputs, error=span.error)
            if kind == "step_finished":
                event["inputs"] = span.inputs
            else:
                event["error_type"] = span.attributes.get("error_type")
        elif kind == "model_called":
            a = span.attributes
            event.update(duration_ms=span.duration_ms, input_tokens=a.get("input_tokens", 0),
                         output_tokens=a.get("output_tokens", 0), cost=a.get("cost"),
                         cache_hit=a.get("cache_hit", False), tool_calls=a.get("tool_calls", []),
                         finish=a.get("finish", ""), text_preview=(span.outputs or {}).get("text", ""),
                         error=span.error)
        elif kind == "tool_called":
            event.update(arguments=span.inputs, result_preview=(span.outputs or {}).get("result", ""),
                         error=span.error, duration_ms=span.duration_ms)
    event.update(ts=row["ts"], kind=kind)
    return event


def encode_all(values: list[Any]) -> list[str | None]:
    """JSON text of each value (``None`` stays ``None``), encoded in one call."""
    interleaved: list[Any] = []
    for v in values:
        interleaved.append(v)
        interleaved.append(_SEP_VALUE)
    text = _dumps(interleaved)
    parts = text[1:-len(_SEP)].split(_SEP) if values else []
    return [None if p == "null" else p for p in parts]


def trace_from_store(store: Any, run_id: str) -> Trace | None:
    """Rebuild a ``Trace`` (the run and its sub-runs) from a ``RunStore``; ``None`` if the run is unknown."""
    rows = store.subtree(run_id)
    if not rows:
        return None
    summaries = [RunSummary.from_row(r) for r in rows]
    ids = {r.run_id for r in summaries}
    spans = [Span.from_row(r) for r in store.spans(trace_id=summaries[0].trace_id) if r["run_id"] in ids]
    spans.sort(key=lambda s: (s.start, s.kind != "run"))
    by_id = {sp.span_id: sp for sp in spans}
    events = [expand_event(e, by_id) for e in store.events(trace_id=summaries[0].trace_id) if e["run_id"] in ids]
    events.sort(key=lambda e: e["ts"])
    return Trace(summaries[0], spans, events, summaries)


class NodeMeta:
    """What the Kailash bridge knows about a node before it starts (type, cycle, iteration)."""

    __slots__ = ("run_id", "name", "node_id", "node_type", "span_kind", "cycle_id", "iteration")
    kind = "node_meta"

    def __init__(self, run_id: str, name: str, node_id: str, node_type: str, span_kind: str = "node",
                 cycle_id: str | None = None, iteration: int | None = None) -> None:
        self.run_id, self.name, self.node_id, self.node_type = run_id, name, node_id, node_type
        self.span_kind, self.cycle_id, self.iteration = span_kind, cycle_id, iteration


class GraphMeta:
    """A workflow's structure: node types and connections (for execution graphs and data flow)."""

    __slots__ = ("run_id", "name", "nodes", "edges")
    kind = "graph_meta"

    def __init__(self, run_id: str, name: str, nodes: dict[str, str], edges: list[dict[str, Any]]) -> None:
        self.run_id, self.name, self.nodes, self.edges = run_id, name, nodes, edges


class _Run:
    __slots__ = ("run_id", "trace_id", "parent_run_id", "agent_id", "model", "kind", "span", "open", "spans",
                 "events", "retries", "implicit", "finalized", "children", "graph", "pending_meta", "summary",
                 "inputs", "exported", "dirty", "changed", "last")

    def __init__(self, run_id: str, trace_id: str, parent_run_id: str | None, agent_id: str, span: Span) -> None:
        self.run_id, self.trace_id, self.parent_run_id, self.agent_id = run_id, trace_id, parent_run_id, agent_id
        self.model = ""
        self.kind = "pattern" if agent_id.startswith("pattern:") else (
            "workflow" if agent_id.startswith("workflow") else "agent")
        self.span = span
        self.open: list[tuple[Span, int]] = []
        self.spans: list[Span] = [span]
        self.events: list[tuple[Any, str | None]] = []  # (event, span id)
        self.retries: list[dict[str, Any]] = []
        self.implicit = False
        self.finalized = False
        self.exported = False
        self.children: list[str] = []
        self.graph: GraphMeta | None = None
        self.pending_meta: dict[str, NodeMeta] = {}
        self.summary: RunSummary | None = None
        self.inputs: Any = None
        self.dirty = False
        self.changed = False
        self.last = 0.0  # monotonic time of the latest event


def _running_summary(run: _Run) -> RunSummary:
    span = run.span
    return RunSummary(run.run_id, run.trace_id, run.parent_run_id, run.agent_id, run.kind, span.status,
                      span.start, span.end, span.duration_ms, run.model, inputs=span.inputs,
                      outputs=span.outputs, attributes=dict(span.attributes))
