"""The tracer's records: per-run builder state, Kailash bridge metadata, and serialisation (events to dicts,
payloads to JSON in one pass, a run's events as one row and back, traces from older stores).

Kept apart from ``tracer.py`` so the span-building logic there reads on its own.
"""

from __future__ import annotations

import json
import operator
import time
import typing
import uuid
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.tracing.spans import RunSummary, Span, Trace

__all__ = ["FIELDS", "GraphMeta", "NodeMeta", "decode_events", "encode_all", "encode_json", "event_dict", "event_rows",
           "expand_event", "legacy_trace_from_store"]


def event_dict(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


_dumps = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode
# Encoding many values in one call is several times cheaper than one call each; this marker (random per
# process, so no payload contains it by accident) separates them in the output.
_SEP_VALUE = f"kaizen-sep-{uuid.uuid4().hex}"  # plain ASCII: the encoder's fast path
_SEP = "," + _dumps(_SEP_VALUE) + ","


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
    text = encode_json(interleaved)
    parts = text[1:-len(_SEP)].split(_SEP) if values else []
    return [None if p == "null" else p for p in parts]


def legacy_trace_from_store(store: Any, rows: list[dict[str, Any]]) -> Trace:
    """A ``Trace`` from a store written before runs kept their events in one row (span and event rows)."""
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

    __slots__ = ("run_id", "name", "node_id", "node_type", "span_kind", "cycle_id", "iteration", "ts")
    kind = "node_meta"

    def __init__(self, run_id: str, name: str, node_id: str, node_type: str, span_kind: str = "node",
                 cycle_id: str | None = None, iteration: int | None = None, ts: float | None = None) -> None:
        self.run_id, self.name, self.node_id, self.node_type = run_id, name, node_id, node_type
        self.span_kind, self.cycle_id, self.iteration = span_kind, cycle_id, iteration
        self.ts = time.time() if ts is None else ts


class GraphMeta:
    """A workflow's structure: node types and connections (for execution graphs and data flow)."""

    __slots__ = ("run_id", "name", "nodes", "edges", "ts")
    kind = "graph_meta"

    def __init__(self, run_id: str, name: str, nodes: dict[str, str], edges: list[dict[str, Any]],
                 ts: float | None = None) -> None:
        self.run_id, self.name, self.nodes, self.edges = run_id, name, nodes, edges
        self.ts = time.time() if ts is None else ts


# ------------------------------------------------------------------------------------- run event rows
# A traced run is stored as ONE row holding all its events: a JSON array of ``[kind, value, value, ...]`` with
# each kind's fields in dataclass order (``run_id`` and ``kind`` left out: the row and the kind carry them).
# Values only, so the row stays small (its size is most of what storing it costs). New event fields must go
# last: rows written before them decode with the new fields at their defaults.
_CLASSES: dict[str, Any] = {c.__dataclass_fields__["kind"].default: c  # every kind of ``events.Event``
                            for c in typing.get_args(ev.Event)}
_CLASSES.update(node_meta=NodeMeta, graph_meta=GraphMeta)
FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(f for f in cls.__dataclass_fields__ if f not in ("run_id", "kind"))
    for kind, cls in _CLASSES.items() if hasattr(cls, "__dataclass_fields__")}
FIELDS["node_meta"] = tuple(f for f in NodeMeta.__slots__ if f != "run_id")
FIELDS["graph_meta"] = tuple(f for f in GraphMeta.__slots__ if f != "run_id")
_ROW = {kind: operator.attrgetter("kind", *names) for kind, names in FIELDS.items()}
_TUPLES = {kind: tuple(f.name for f in cls.__dataclass_fields__.values() if f.default == ())
           for kind, cls in _CLASSES.items() if hasattr(cls, "__dataclass_fields__")}


def event_rows(events: list[Any]) -> list[tuple[Any, ...]]:
    """Each event as ``(kind, values...)`` (C-speed attribute reads), ready to encode in one call."""
    rows = _ROW
    return [rows[e.kind](e) for e in events]


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


_orjson: Any = None


def encode_json(values: Any) -> str:
    """JSON text of ``values`` in one fast call (unknown types as text)."""
    global _orjson
    if _orjson is None:
        import orjson

        _orjson = orjson
    try:
        return _orjson.dumps(values, default=_default, option=_orjson.OPT_NON_STR_KEYS).decode()  # type: ignore[no-any-return]
    except (TypeError, _orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits: the standard encoder
        return json.dumps(values, ensure_ascii=False, default=_default, separators=(",", ":"))


def decode_events(run_id: str, data: str) -> list[Any]:
    """The typed events (and node/graph metadata) of one stored run row."""
    import orjson

    out = []
    for item in orjson.loads(data):
        kind = item[0]
        cls = _CLASSES.get(kind)
        if cls is None:  # written by a newer kaizen-lab: skip what this one does not know
            continue
        values = dict(zip(FIELDS[kind], item[1:], strict=False))
        values["run_id"] = run_id
        for name in _TUPLES.get(kind, ()):  # JSON has no tuples: the fields typed as tuples get theirs back
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        out.append(cls(**values))
    return out


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
