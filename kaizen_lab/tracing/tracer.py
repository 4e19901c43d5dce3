"""``Tracer``: turns the event stream into nested, redacted spans, kept in memory and in the run store.

The listener is a deque's ``append``, so an agent run pays well under a microsecond per event. A background thread (or any query, which first catches up) builds spans, redacts payloads when a
run finishes, hands rows to the store's batching writer and whole traces to the exporters.

Nesting: each run gets a ``run`` span; steps and workflow nodes (from ``KaizenTaskManager``) nest under the
innermost open node of their run; model and tool calls nest under their step; a sub-run (``parent_run_id``)
nests under the node or step open in its parent when it started. Events for a run that never announced itself
(``run_workflow`` without the task manager) open an implicit ``workflow`` run.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.errors import KaizenError
from kaizen_lab.tracing._records import (
    GraphMeta,
    NodeMeta,
    _Run,
    _running_summary,
    compact_event,
    encode_all,
    event_dict,
    trace_from_store,
)
from kaizen_lab.tracing.spans import RunSummary, Span, Trace

__all__ = ["GraphMeta", "NodeMeta", "Tracer", "TracingError", "active_tracers", "trace_from_store"]

NODE_KINDS = frozenset({"node", "cycle", "iteration"})


class TracingError(KaizenError):
    """A trace could not be stored or exported; the message names the failing part."""


_active: list[Tracer] = []


def active_tracers() -> list[Tracer]:
    """Tracers currently started (the Kailash bridge sends node metadata to these)."""
    return list(_active)


def publish_meta(meta: NodeMeta | GraphMeta) -> None:
    for tracer in _active:
        tracer._append(meta)


_exit_hook = False


def _register_exit_hook() -> None:
    """At interpreter exit, finish active tracers first (registered after the store's hook, so it runs before
    it: atexit runs last-registered first) so their last runs reach the store."""
    global _exit_hook
    if _exit_hook:
        return
    _exit_hook = True
    import atexit

    import kaizen_lab.store  # noqa: F401 - make sure the store's own exit hook is registered earlier

    def stop_all() -> None:
        for tracer in list(_active):
            try:
                tracer.stop()
            except Exception:  # noqa: BLE001, S110 - exiting; nothing left to report to
                pass

    atexit.register(stop_all)


class Tracer:
    """Record every run in this process as nested spans.

    Args:
        store: a ``RunStore``, a path or ``":memory:"`` (a store is opened), ``None`` for the configured store
            (``tracing.store_path``, or in memory when ``tracing.in_memory``), or ``False`` to keep traces
            only in this object.
        config: a ``KaizenConfig`` (store location, retention, ``tracing.redact_patterns``).
        exporters: objects with ``export(trace)`` called with each finished root trace (JSONL, OpenTelemetry,
            Prometheus; see ``kaizen_lab.tracing.exporters``).
        max_traces: root traces kept in memory (older ones are still in the store).
        flush_interval: seconds between background passes (a pass waits while events keep arriving).
        max_pending: buffered events that force a pass even while runs keep coming (bounds memory).

    Example:
        >>> with Tracer(store=False) as tracer:
        ...     result = agent.execute(question="hi")           # doctest: +SKIP
        >>> tracer.get(result.run_id).spans[0].kind             # doctest: +SKIP
        'run'
    """

    def __init__(self, store: Any = None, *, config: Any = None, exporters: Iterable[Any] = (),
                 max_traces: int = 1000, flush_interval: float = 0.1, max_pending: int = 200_000) -> None:
        from kaizen_lab.tracing._redact import PayloadRedactor

        if config is None:
            from kaizen_lab.config import load_config

            config = load_config()
        self.config = config
        self.store = self._open_store(store, config)
        self._owns_store = self.store is not None and not hasattr(store, "write")
        self.exporters = list(exporters)
        self.max_traces = max_traces
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.implicit_idle_s = 1.0
        self._redact = PayloadRedactor(config.tracing.redact_patterns)
        # the listener IS ``deque.append``: no Python frame per event on the caller's path
        self._buf: collections.deque[Any] = collections.deque()
        self._append = self._buf.append
        self._lock = threading.RLock()
        self._runs: dict[str, _Run] = {}
        self._roots: collections.deque[str] = collections.deque()
        self._errors: list[BaseException] = []
        self._pending: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        self._remove: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    @staticmethod
    def _open_store(store: Any, config: Any) -> Any:
        if store is False:
            return None
        if hasattr(store, "write"):
            return store
        from kaizen_lab.store import RunStore

        return RunStore(store, config=config)

    # ---------------------------------------------------------------------------------------- lifecycle
    @property
    def active(self) -> bool:
        return self._remove is not None

    def start(self) -> Tracer:
        """Begin listening to every run in this process (idempotent)."""
        if self._remove is None:
            _register_exit_hook()
            self._remove = ev.add_listener(self._append)
            _active.append(self)
            self._wake.clear()
            self._thread = threading.Thread(target=self._background, name="kaizen-lab-tracer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, finish what was recorded (implicit runs included) and commit it to the store."""
        if self._remove is not None:
            self._remove()
            self._remove = None
            if self in _active:
                _active.remove(self)
            self._wake.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
        self.flush()

    def close(self) -> None:
        """``stop()``, then close the store if this tracer opened it."""
        self.stop()
        if self._owns_store and self.store is not None:
            self.store.close()

    def __enter__(self) -> Tracer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _background(self) -> None:
        # Work when the process is idle: while events keep arriving (a busy loop of runs), building spans now
        # would only compete with the runs for the GIL, so wait, unless the backlog passes ``max_pending``.
        # In a notebook, runs are separated by idle time and traces appear within one ``flush_interval``.
        seen = 0
        while not self._wake.wait(self.flush_interval):
            pending = len(self._buf)
            if pending and pending > seen and pending < self.max_pending:
                seen = pending
                continue
            seen = 0
            try:
                self._process()
            except Exception as exc:  # noqa: BLE001 - kept for flush() to report
                self._errors.append(exc)
        self._process()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Build spans for everything recorded so far, finish implicit runs, and wait for the store.

        Raises:
            TracingError: storing or exporting failed since the last flush (the first failure).
        """
        self._process(final=True)
        if self.store is not None:
            try:
                self.store.flush(timeout)
            except KaizenError as exc:
                self._errors.append(exc)
        errors, self._errors = self._errors, []
        if errors:
            raise TracingError(f"tracing failed: {errors[0]}") from errors[0]

    # ---------------------------------------------------------------------------------------- building
    def _process(self, final: bool = False) -> None:
        with self._lock:
            buf = self._buf
            feed = self._feed
            while buf:
                event = buf.popleft()
                try:
                    feed(event, 0)
                except Exception as exc:  # noqa: BLE001 - one odd event must not stop the others
                    self._errors.append(exc)
            # an implicit run never says it is done: finish it when asked, or once it has been quiet a while
            quiet = time.monotonic() - self.implicit_idle_s
            for run in list(self._runs.values()):
                if run.implicit and not run.open and run.changed and (final or run.last < quiet):
                    self._finalize(run)
            if self._pending[0] and self.store is not None:  # one queue item (one transaction) per pass
                runs, spans, events = self._pending
                self._pending = ([], [], [])
                self._store_rows(runs, spans, events)

    def _store_rows(self, runs: list[tuple[Any, ...]], spans: list[tuple[Any, ...]],
                    events: list[tuple[Any, ...]]) -> None:
        store = self.store
        if hasattr(store, "write_rows"):
            store.write_rows(runs, spans, events)
            return
        from kaizen_lab.store.runs import EVENT_COLUMNS
        from kaizen_lab.tracing.spans import RUN_COLUMNS, SPAN_COLUMNS

        store.write(runs=[dict(zip(RUN_COLUMNS, r, strict=True)) for r in runs],
                    spans=[dict(zip(SPAN_COLUMNS, r, strict=True)) for r in spans],
                    events=[dict(zip(EVENT_COLUMNS, r, strict=True)) for r in events])

    def _new_run(self, run_id: str, agent_id: str, ts: float, parent_run_id: str | None, tid: int) -> _Run:
        parent_span: Span | None = None
        trace_id = run_id
        if parent_run_id:
            parent = self._runs.get(parent_run_id) or self._implicit(parent_run_id, ts)
            parent.children.append(run_id)
            if parent.implicit:
                parent.changed = True
                parent.last = time.monotonic()
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
        run.changed = True
        run.last = time.monotonic()
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
            run = self._runs.get(event.run_id) or self._implicit(event.run_id, time.time())
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
        run.changed = True
        if run.implicit:
            run.last = time.monotonic()

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
        self._finalize(run)

    # ---------------------------------------------------------------------------------------- finishing
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

    def _finalize(self, run: _Run) -> None:
        """Redact the run's payloads, write its rows, export its trace if it is a root.

        Payloads live in spans; an event row keeps only what its span does not hold (``_compact``). All of
        the run's JSON is encoded in one call, and when the payload text cannot hold a secret (the usual
        case) nothing is copied; otherwise every payload goes through the redactor and is encoded again.
        """
        summary = self._summary(run)
        spans = run.spans
        compact = [compact_event(e, span_id) for e, span_id in run.events]
        values: list[Any] = []
        for s in spans:
            values += (s.inputs, s.outputs, s.error, s.attributes)
        texts = encode_all(values + compact)
        redact = self._redact
        scan = [t for i, t in enumerate(texts[:len(values)]) if t and (i % 4 != 3 or i == 3)]
        if redact.needed("".join(scan)):
            run.dirty = True
            for s in spans:
                s.inputs, s.outputs, s.attributes = redact(s.inputs), redact(s.outputs), redact(s.attributes)
                s.error = redact.text(s.error) if s.error else s.error
            compact = [redact(c) for c in compact]
            values = []
            for s in spans:
                values += (s.inputs, s.outputs, s.error, s.attributes)
            texts = encode_all(values + compact)
        summary.inputs, summary.outputs = run.span.inputs, run.span.outputs
        summary.error, summary.attributes = run.span.error, run.span.attributes
        run.summary = summary
        run.changed = False
        first = not run.finalized
        run.finalized = True
        if self.store is not None:  # rows in the store's column order (RUN_COLUMNS, SPAN_COLUMNS, events)
            pending = self._pending
            su = summary
            pending[0].append((su.run_id, su.trace_id, su.parent_run_id, su.agent_id, su.kind, su.status, su.start,
                               su.end, su.duration_ms, su.model, su.input_tokens, su.output_tokens, su.cost,
                               su.model_calls, su.tool_calls, su.cache_hits, su.retries, su.error, su.error_type,
                               texts[0], texts[1], texts[3]))
            spans_out = pending[1]
            for i, s in enumerate(spans):
                k = 4 * i
                spans_out.append((s.span_id, s.trace_id, s.run_id, s.parent_id, s.kind, s.name, s.start, s.end,
                                  s.duration_ms, s.status, s.error, texts[k], texts[k + 1], texts[k + 3]))
            base = len(values)
            rid, tid = run.run_id, run.trace_id
            pending[2].extend((rid, tid, i, e.kind, e.ts, texts[base + i]) for i, (e, _) in enumerate(run.events))
        if run.parent_run_id is None and first:
            self._roots.append(run.run_id)
            self._export(run)
            while len(self._roots) > self.max_traces:
                self._evict(self._roots.popleft())

    def _events(self, run: _Run) -> list[dict[str, Any]]:
        out = [event_dict(e) for e, _ in run.events]
        return [self._redact(e) for e in out] if run.dirty or not run.finalized else out

    def _export(self, run: _Run) -> None:
        if not self.exporters or run.exported:
            return
        run.exported = True
        trace = self._trace(run)
        for exporter in self.exporters:
            try:
                exporter.export(trace)
            except Exception as exc:  # noqa: BLE001 - reported by flush()
                self._errors.append(TracingError(f"exporter {type(exporter).__name__} failed on run "
                                                 f"{run.run_id}: {type(exc).__name__}: {exc}"))

    def _evict(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            for child in run.children:
                self._evict(child)

    # ---------------------------------------------------------------------------------------- queries
    def _tree(self, run: _Run) -> list[_Run]:
        out, stack = [], [run]
        while stack:
            r = stack.pop()
            out.append(r)
            stack.extend(self._runs[c] for c in reversed(r.children) if c in self._runs)
        return out

    def _trace(self, run: _Run) -> Trace:
        runs = self._tree(run)
        spans: list[Span] = []
        events: list[dict[str, Any]] = []
        summaries = []
        for r in runs:
            if r.finalized:
                spans.extend(r.spans)
                summaries.append(r.summary or self._live_summary(r))
            else:  # still running: show redacted copies, keep the raw values for the finish
                summaries.append(self._live_summary(r))
                spans.extend(self._redacted_copy(s) for s in r.spans)
            events.extend(self._events(r))
        spans.sort(key=lambda s: (s.start, s.kind != "run"))
        events.sort(key=lambda e: e["ts"])
        return Trace(summaries[0], spans, events, summaries)

    def _live_summary(self, run: _Run) -> RunSummary:
        s = self._summary(run) if run.implicit else _running_summary(run)
        s.inputs, s.outputs = self._redact(s.inputs), self._redact(s.outputs)
        s.attributes = self._redact(s.attributes)
        return s

    def _redacted_copy(self, span: Span) -> Span:
        return Span(span.span_id, span.trace_id, span.run_id, span.parent_id, span.kind, span.name, span.start,
                    span.end, span.duration_ms, span.status,
                    self._redact.text(span.error) if span.error else None, self._redact(span.inputs),
                    self._redact(span.outputs), self._redact(span.attributes))

    def get(self, run_id: str) -> Trace:
        """The trace of ``run_id`` (its sub-runs included), from memory or else from the store.

        Raises:
            KeyError: no run with that id was recorded (the message lists the latest run ids).
        """
        self._process()
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                return self._trace(run)
        if self.store is not None:
            self.store.flush()
            trace = trace_from_store(self.store, run_id)
            if trace is not None:
                return trace
        latest = [r.run_id for r in list(self._runs.values())[-5:]]
        raise KeyError(f"no run {run_id!r} was traced; latest runs: {latest} (was the tracer started "
                       "before the run?)")

    def runs(self, *, agent_id: str | None = None, roots_only: bool = False) -> list[RunSummary]:
        """Summaries of the runs held in memory, oldest first (running ones included)."""
        self._process()
        with self._lock:
            out = []
            for run in self._runs.values():
                if (agent_id is None or run.agent_id == agent_id) and not (roots_only and run.parent_run_id):
                    out.append(run.summary if run.summary is not None and run.finalized
                               else self._live_summary(run))
        return out

    def to_records(self, *, agent_id: str | None = None) -> list[dict[str, Any]]:
        """``runs()`` as flat dicts (DataFrame-friendly)."""
        return [r.to_dict() for r in self.runs(agent_id=agent_id)]

    def __repr__(self) -> str:
        return f"Tracer(active={self.active}, runs={len(self._runs)}, store={self.store!r})"
