"""Span and trace records: what the tracer builds from the event stream, and what queries return.

A trace is a tree of spans: ``run`` → ``step`` (validate_inputs, format, model, tool, parse, validate_outputs)
or ``node`` (a workflow node; ``cycle``/``iteration`` spans group the nodes of a Kailash cycle) → ``model`` or
``tool`` calls. A sub-run (an agent inside a workflow node or a pattern) is a ``run`` span whose parent is the
span that was open in the parent run when it started. Payloads (inputs, outputs, errors) are redacted before
they are kept; records are plain dicts so ``pandas.DataFrame(trace.to_records())`` just works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunSummary", "Span", "Trace", "SPAN_COLUMNS", "RUN_COLUMNS"]

SPAN_COLUMNS = ("span_id", "trace_id", "run_id", "parent_id", "kind", "name", "start", "end", "duration_ms",
                "status", "error", "inputs", "outputs", "attributes")
RUN_COLUMNS = ("run_id", "trace_id", "parent_run_id", "agent_id", "kind", "status", "start", "end",
               "duration_ms", "model", "input_tokens", "output_tokens", "cost", "model_calls", "tool_calls",
               "cache_hits", "retries", "error", "error_type", "inputs", "outputs", "attributes")


@dataclass(slots=True)
class Span:
    """One timed unit of work. Times are epoch seconds; ``duration_ms`` is measured, not ``end - start``."""

    span_id: str
    trace_id: str
    run_id: str
    parent_id: str | None
    kind: str
    name: str
    start: float
    end: float | None = None
    duration_ms: float | None = None
    status: str = "running"
    error: str | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.end is not None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SPAN_COLUMNS}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Span:
        """A span from a store row (JSON columns decoded)."""
        return cls(row["span_id"], row["trace_id"], row["run_id"], row["parent_id"], row["kind"], row["name"],
                   row["start"], row["end"], row["duration_ms"], row["status"], row["error"],
                   _loads(row["inputs"]), _loads(row["outputs"]), _loads(row["attributes"]) or {})


@dataclass(slots=True)
class RunSummary:
    """One run (agent, workflow or pattern) with its totals; sub-runs point at ``parent_run_id``."""

    run_id: str
    trace_id: str
    parent_run_id: str | None
    agent_id: str
    kind: str
    status: str
    start: float
    end: float | None
    duration_ms: float | None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    model_calls: int = 0
    tool_calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    error: str | None = None
    error_type: str | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RUN_COLUMNS}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunSummary:
        values: dict[str, Any] = {name: row.get(name) for name in RUN_COLUMNS}
        for name in ("inputs", "outputs", "attributes"):
            values[name] = _loads(values[name])
        values["attributes"] = values["attributes"] or {}
        for name in ("input_tokens", "output_tokens", "model_calls", "tool_calls", "cache_hits", "retries"):
            values[name] = values[name] or 0
        return cls(**values)


@dataclass(slots=True)
class Trace:
    """A run with every span and event under it (its sub-runs included), as data.

    Attributes:
        run: the summary of the run the trace was asked for.
        spans: spans in start order; ``spans[0]`` is the run's own span.
        events: the recorded events (redacted dicts, as ``events.event_to_dict`` gives) in arrival order.
        runs: summaries of the run and its sub-runs.
    """

    run: RunSummary
    spans: list[Span]
    events: list[dict[str, Any]]
    runs: list[RunSummary] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def root(self) -> Span:
        return next(s for s in self.spans if s.kind == "run" and s.run_id == self.run.run_id)

    def children(self, span: Span | str) -> list[Span]:
        """Direct children of ``span`` (a span or its id), in start order."""
        span_id = span if isinstance(span, str) else span.span_id
        return [s for s in self.spans if s.parent_id == span_id]

    def find(self, kind: str | None = None, name: str | None = None) -> list[Span]:
        """Spans of ``kind`` and/or ``name``."""
        return [s for s in self.spans if (kind is None or s.kind == kind) and (name is None or s.name == name)]

    def walk(self) -> Iterator[tuple[int, Span]]:
        """Depth-first (depth, span) pairs from the root."""
        by_parent: dict[str | None, list[Span]] = {}
        for s in self.spans:
            by_parent.setdefault(s.parent_id, []).append(s)
        stack = [(0, self.root)]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            stack.extend((depth + 1, c) for c in reversed(by_parent.get(span.span_id, [])))

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per span with its depth (DataFrame-friendly)."""
        return [{**span.to_dict(), "depth": depth} for depth, span in self.walk()]

    def __repr__(self) -> str:
        return (f"Trace({self.run.run_id!r}, agent={self.run.agent_id!r}, status={self.run.status!r}, "
                f"spans={len(self.spans)}, runs={len(self.runs)})")


def _loads(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    return json.loads(text)
