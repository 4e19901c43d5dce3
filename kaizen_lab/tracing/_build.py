"""Spans from events: the one builder behind every trace (in memory, from the store, for exporters).

Events go in in the order they happened (a run and its sub-runs merged by time); runs with nested spans come
out. Nesting: each run gets a ``run`` span; steps and workflow nodes (from ``KaizenTaskManager``) nest under the
innermost open node of their run; model and tool calls nest under their step; a sub-run (``parent_run_id``)
nests under the node or step open in its parent when it started. Events for a run that never announced itself
(``run_workflow`` without the task manager) open an implicit ``workflow`` run.

Spans are built only when a trace is read, so recording a run costs no span objects at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.tracing._records import _Run
from kaizen_lab.tracing.spans import RunSummary, Span

__all__ = ["SpanBuilder"]

NODE_KINDS = frozenset({"node", "cycle", "iteration"})


class SpanBuilder:
    """Feed events (``feed``) in order; ``runs`` then holds each run's spans; ``summary`` totals one run."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}

    @property
    def runs(self) -> dict[str, _Run]:
        return self._runs

    def feed_all(self, events: Iterable[Any]) -> SpanBuilder:
        feed = self._feed
        for event in events:
            feed(event, 0)
        return self

    def close(self) -> SpanBuilder:
        """Total each finished run; finish what never said it finished (implicit runs: end times and status
        from their spans)."""
        for run in self._runs.values():
            if run.implicit or run.finalized:  # (finished runs get their retries and graph attributes)
                run.summary = self._summary(run)
        return self

    def _new_run(self, run_id: str, agent_id: str, ts: float, parent_run_id: str | None, tid: int) -> _Run:
        parent_span: Span | None = None
        trace_id = run_id
        if parent_run_id:
            parent = self._runs.get(parent_run_id) or self._implicit(parent_run_id, ts)
            parent.children.append(run_id)
            trace_id = parent.trace_id
            parent_span = self._attach_point(parent, tid)
        span = Span(run_id, trace_id, run_id, parent_span.span_id if parent_span else None, "run", agent_id, ts,
                    attributes={"agent_id": agent_id})
        run = _Run(run_id, trace_id, parent_run_id, agent_id, span)
        span.attributes["run_kind"] = run.kind
        self._runs[run_id] = run
        return run

    def _implicit(self, run_id: str, ts: float) -> _Run:
        run = self._new_run(run_id, "workflow", ts, None, 0)
        run.implicit = True
        run.kind = "workflow"
        run.span.attributes["run_kind"] = "workflow"
        run.span.attributes["implicit"] = True
        return run

    @staticmethod
    def _attach_point(run: _Run, tid: int) -> Span:
        fallback: Span | None = None
        for span, span_tid in reversed(run.open):
            if span.kind in NODE_KINDS:
                if span_tid == tid:
                    return span
                fallback = fallback or span
        if fallback is not None:
            return fallback
        return run.open[-1][0] if run.open else run.span

    @staticmethod
    def _node_parent(run: _Run) -> Span:
        for span, _tid in reversed(run.open):
            if span.kind in NODE_KINDS:
                return span
        return run.span

    def _feed(self, event: Any, tid: int) -> None:
        kind = event.kind
        if kind == "graph_meta" or kind == "node_meta":
            run = self._runs.get(event.run_id) or self._implicit(event.run_id, event.ts)
            if kind == "graph_meta":
                run.graph = event
                run.span.attributes["workflow"] = event.name
            else:
                run.pending_meta[event.name] = event
            return
        run_id = event.run_id
        found = self._runs.get(run_id)
        if kind == "run_started":
            if found is None:
                run = self._new_run(run_id, event.agent_id, event.ts, event.parent_run_id, tid)
            else:
                run = found
            if run.implicit:  # announced after its first events: adopt the real identity
                run.implicit = False
                run.agent_id = run.span.name = event.agent_id
                run.kind = "pattern" if event.agent_id.startswith("pattern:") else (
                    "workflow" if event.agent_id.startswith("workflow") else "agent")
                run.span.attributes.pop("implicit", None)
                run.span.attributes.update(agent_id=event.agent_id, run_kind=run.kind)
                run.span.start = min(run.span.start, event.ts)
            run.model = event.model or run.model
            if event.model:
                run.span.attributes["model"] = event.model
            run.span.inputs = run.inputs = event.inputs
            run.events.append((event, run.span.span_id))
            return
        run = found if found is not None else self._implicit(run_id, event.ts)
        span: Span | None = None
        if kind == "step_started":
            span = self._step_started(run, event, tid)
        elif kind == "step_finished":
            span = self._step_finished(run, event, tid)
        elif kind == "model_called":
            span = self._model_called(run, event)
        elif kind == "tool_called":
            span = self._tool_called(run, event)
        elif kind == "retried":
            run.retries.append({"attempt": event.attempt, "reason": event.reason, "ts": event.ts})
        elif kind == "run_finished":
            run.events.append((event, run.span.span_id))
            self._run_finished(run, event)
            return
        run.events.append((event, span.span_id if span is not None else None))

    def _span(self, run: _Run, parent: Span, kind: str, name: str, start: float, **attributes: Any) -> Span:
        span = Span(ev.new_id("span"), run.trace_id, run.run_id, parent.span_id, kind, name, start,
                    attributes=attributes)
        run.spans.append(span)
        return span

    def _step_started(self, run: _Run, event: Any, tid: int) -> Span:
        if event.step == "node":
            meta = run.pending_meta.pop(event.name, None)
            parent = self._attach_point(run, tid) if meta is None or meta.span_kind == "node" else \
                self._node_parent(run)
            if meta is None:
                span = self._span(run, parent, "node", event.name, event.ts, step="node", node_id=event.name)
            else:
                span = self._span(run, parent, meta.span_kind, event.name, event.ts, step="node",
                                  node_id=meta.node_id, node_type=meta.node_type)
                if meta.cycle_id is not None:
                    span.attributes["cycle_id"] = meta.cycle_id
                if meta.iteration is not None:
                    span.attributes["iteration"] = meta.iteration
        else:
            span = self._span(run, self._node_parent(run), "step", event.step, event.ts, step=event.step)
            if event.name:
                span.attributes["label"] = event.name
        run.open.append((span, tid))
        return span

    def _step_finished(self, run: _Run, event: Any, tid: int) -> Span:
        step = event.step
        found = None
        for i in range(len(run.open) - 1, -1, -1):
            span = run.open[i][0]
            if span.attributes.get("step") == step and (step != "node" or span.name == event.name):
                found = span
                del run.open[i]
                break
        if found is None:  # finished without a start (or the start was before the tracer): rebuild it
            found = self._span(run, self._node_parent(run), "node" if step == "node" else "step",
                               event.name if step == "node" else step, event.ts - event.duration_ms / 1000,
                               step=step)
        found.end = event.ts
        found.duration_ms = event.duration_ms
        found.status = event.status
        found.error = event.error
        if event.inputs is not None:
            found.inputs = event.inputs
        if event.outputs is not None:
            found.outputs = event.outputs
        if run.implicit and (run.span.end is None or event.ts > run.span.end):
            run.span.end = event.ts
        return found

    def _call_parent(self, run: _Run, step: str) -> Span:
        for span, _tid in reversed(run.open):
            if span.attributes.get("step") == step:
                return span
        return self._node_parent(run)

    def _model_called(self, run: _Run, event: Any) -> Span:
        parent = self._call_parent(run, "model")
        span = self._span(run, parent, "model", event.model, event.ts - event.duration_ms / 1000,
                          model=event.model, attempt=event.attempt, input_tokens=event.input_tokens,
                          output_tokens=event.output_tokens, cost=event.cost, cache_hit=event.cache_hit,
                          finish=event.finish, tool_calls=list(event.tool_calls))
        span.end = event.ts
        span.duration_ms = event.duration_ms
        span.status = "error" if event.error else "ok"
        span.error = event.error
        span.outputs = {"text": event.text_preview, "tool_calls": list(event.tool_calls)}
        return span

    def _tool_called(self, run: _Run, event: Any) -> Span:
        start = event.ts - event.duration_ms / 1000
        status = "error" if event.error else "ok"
        step = self._span(run, self._node_parent(run), "step", "tool", start, step="tool", tool=event.tool)
        call = self._span(run, step, "tool", event.tool, start, tool=event.tool, source=event.source)
        for span in (step, call):
            span.end = event.ts
            span.duration_ms = event.duration_ms
            span.status = status
            span.error = event.error
        call.inputs = event.arguments
        call.outputs = {"result": event.result_preview}
        if getattr(event, "content", ()):  # typed content (images, links, resources) by type and size
            call.attributes["content"] = [dict(item) for item in event.content]
        return call

    def _run_finished(self, run: _Run, event: Any) -> None:
        span = run.span
        span.end = event.ts
        span.duration_ms = event.duration_ms
        span.status = event.status
        span.error = event.error
        span.outputs = event.outputs
        if event.error_type:
            span.attributes["error_type"] = event.error_type
        for open_span, _tid in run.open:  # steps cut short by the run's end
            open_span.end = event.ts
            open_span.duration_ms = (event.ts - open_span.start) * 1000
            open_span.status = "cancelled" if event.status == "ok" else event.status
        run.open.clear()
        run.implicit = False
        run.finalized = True

    def _summary(self, run: _Run) -> RunSummary:
        span = run.span
        tokens_in = tokens_out = calls = tools = hits = 0
        cost: float | None = None
        for s in run.spans:
            if s.kind == "model":
                a = s.attributes
                tokens_in += a["input_tokens"]
                tokens_out += a["output_tokens"]
                calls += 1
                hits += 1 if a["cache_hit"] else 0
                if a["cost"] is not None:
                    cost = (cost or 0.0) + a["cost"]
            elif s.kind == "tool":
                tools += 1
        end = span.end
        if run.implicit or span.duration_ms is None:
            ends = [s.end for s in run.spans if s.end is not None]
            ends += [c.span.end for c in map(self._runs.get, run.children) if c is not None and c.span.end]
            end = max(ends or [span.start])
            span.end = end
            span.duration_ms = (end - span.start) * 1000
            if span.status == "running":
                span.status = "error" if any(s.status == "error" for s in run.spans) else "ok"
        if run.retries:
            span.attributes["retries"] = run.retries
        if run.graph is not None:
            span.attributes["graph"] = {"nodes": run.graph.nodes, "edges": run.graph.edges}
        return RunSummary(run.run_id, run.trace_id, run.parent_run_id, run.agent_id, run.kind, span.status,
                          span.start, end, span.duration_ms, run.model, tokens_in, tokens_out, cost, calls, tools,
                          hits, len(run.retries), span.error, span.attributes.get("error_type"), span.inputs,
                          span.outputs, span.attributes)

