"""``Tracer``: records every run's events at almost no cost; spans are built when a trace is read.

Recording: the listener is a deque's ``append`` (no Python frame per event on the caller's path). A background
pass (or any query, which first catches up) sorts events into their runs; when a run finishes, its summary is
counted from its events, its payloads are encoded to JSON in ONE call and scanned for secrets (C-speed checks;
the redactor only runs when a marker is found), and it becomes two store rows: the run (the columns every query
filters on) and all its events. Nothing else happens per run: no span objects, no per-span rows.

Reading (``get``, ``runs``, ``trace_from_store``, exporters): the run's events, and its sub-runs', merged in time
order, go through the one ``SpanBuilder`` (``_build.py``), so a trace from memory and from the store is the same.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import operator
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab.errors import KaizenError
from kaizen_lab.tracing._build import SpanBuilder
from kaizen_lab.tracing._records import (
    GraphMeta,
    NodeMeta,
    _running_summary,
    decode_events,
    encode_all,
    encode_json,
    event_dict,
    event_rows,
    legacy_trace_from_store,
)
from kaizen_lab.tracing.spans import RunSummary, Span, Trace

__all__ = ["GraphMeta", "NodeMeta", "Tracer", "TracingError", "active_tracers", "trace_from_store"]

_TS = operator.attrgetter("ts")
_RUN_ID = operator.attrgetter("run_id")
_KIND = operator.attrgetter("kind")


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


class _Rec:
    """One run as recorded: its events, in arrival order, and what the store row needs."""

    __slots__ = ("run_id", "trace_id", "parent_run_id", "agent_id", "events", "data", "children", "implicit",
                 "finished", "summary", "last", "exported")

    def __init__(self, run_id: str, trace_id: str, parent_run_id: str | None, agent_id: str) -> None:
        self.run_id, self.trace_id, self.parent_run_id, self.agent_id = run_id, trace_id, parent_run_id, agent_id
        # a finished run keeps its events as the JSON text it was stored as (``data``; one string, which the
        # garbage collector never walks) and decodes them when read; ``events`` is ``None`` then
        self.events: list[Any] | None = []
        self.data: str | None = None
        self.children: list[str] = []
        self.implicit = False
        self.finished = False
        self.summary: RunSummary | None = None
        self.last = 0.0  # monotonic time of the latest event (implicit runs finish after a quiet while)
        self.exported = False

    def read(self) -> list[Any]:
        """The run's events (decoded from ``data`` when it has finished)."""
        if self.events is not None:
            return self.events
        return decode_events(self.run_id, self.data or "[]")

    def mutable(self) -> list[Any]:
        """The run's event list, to add to (a finished run that gets more events is finished again later)."""
        if self.events is None:
            self.events, self.data = self.read(), None
        return self.events


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
        self._runs: dict[str, _Rec] = {}
        self._roots: collections.deque[str] = collections.deque()
        self._errors: list[BaseException] = []
        self._pending: tuple[list[Any], list[Any]] = ([], [])  # run rows, run-event rows
        self._remove: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._implicit_ids: set[str] = set()

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

    # ---------------------------------------------------------------------------------------- recording
    def _process(self, final: bool = False) -> None:
        with self._lock:
            buf = self._buf
            if buf:
                # drained in C (a listener may append meanwhile: only what was there is taken), then sorted
                # into runs a run at a time: consecutive events of one run are one group (order kept)
                drained = list(itertools.starmap(buf.popleft, itertools.repeat((), len(buf))))
                runs = self._runs
                for run_id, group in itertools.groupby(drained, _RUN_ID):
                    events = list(group)
                    try:
                        rec = runs.get(run_id)
                        kinds = list(map(_KIND, events))
                        if rec is None and kinds[0] == "run_started" and "run_started" not in kinds[1:] \
                                and "run_finished" not in kinds[:-1]:
                            rec = self._open(events[0])  # the common case: a whole run, or its start
                            rec.mutable().extend(events)
                            if kinds[-1] == "run_finished":
                                self._finish(rec)
                        elif rec is not None and not rec.implicit and "run_started" not in kinds \
                                and "run_finished" not in kinds[:-1]:
                            rec.mutable().extend(events)  # the rest of a run begun in an earlier pass
                            if kinds[-1] == "run_finished":
                                self._finish(rec)
                        else:
                            for event in events:
                                self._one(event)
                    except Exception as exc:  # noqa: BLE001 - one odd run must not stop the others
                        self._errors.append(exc)
            # an implicit run never says it is done: finish it when asked, or once it has been quiet a while
            if self._implicit_ids:
                runs = self._runs
                quiet = time.monotonic() - self.implicit_idle_s
                for run_id in list(self._implicit_ids):
                    rec = runs.get(run_id)
                    if rec is None:
                        self._implicit_ids.discard(run_id)
                    elif not rec.finished and (final or rec.last < quiet) and _closed(rec):
                        self._finish(rec)
            if self._pending[0] and self.store is not None:  # one queue item (one transaction) per pass
                rows, event_rows = self._pending
                self._pending = ([], [])
                self.store.write_rows(rows, run_events=event_rows)

    def _one(self, event: Any) -> None:
        """Sort one event into its run (the general case: implicit runs, runs announced late)."""
        try:
            rec = self._runs.get(event.run_id)
            if rec is None:
                rec = self._open(event)
            elif rec.implicit and event.kind == "run_started":
                self._adopt(rec, event)
            rec.mutable().append(event)
            if event.kind == "run_finished":
                rec.implicit = False
                self._implicit_ids.discard(rec.run_id)
                self._finish(rec)
            elif rec.implicit:
                rec.finished = False  # more work after an idle finish: finished (and stored) again later
                rec.last = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - one odd event must not stop the others
            self._errors.append(exc)

    def _open(self, event: Any) -> _Rec:
        run_id = event.run_id
        if event.kind != "run_started":
            return self._implicit(run_id)
        parent_id = event.parent_run_id
        trace_id = run_id
        if parent_id:
            parent = self._runs.get(parent_id) or self._implicit(parent_id)
            parent.children.append(run_id)
            if parent.implicit:
                parent.finished = False
                parent.last = time.monotonic()
            trace_id = parent.trace_id
        rec = self._runs[run_id] = _Rec(run_id, trace_id, parent_id, event.agent_id)
        return rec

    def _implicit(self, run_id: str) -> _Rec:
        rec = self._runs[run_id] = _Rec(run_id, run_id, None, "workflow")
        rec.implicit = True
        rec.last = time.monotonic()
        self._implicit_ids.add(run_id)
        return rec

    def _adopt(self, rec: _Rec, event: Any) -> None:
        """A run announced after its first events: it takes its real identity."""
        rec.implicit = False
        rec.agent_id = event.agent_id
        self._implicit_ids.discard(rec.run_id)

    def _finish(self, rec: _Rec) -> None:
        """Count the run's summary, encode and check its payloads, queue its two rows, export a root."""
        events = rec.mutable()
        summary = _summarize(rec, self._runs)
        # the run's inputs and outputs are in its events: scanning the events' text covers them
        data = encode_json(event_rows(events))
        redact = self._redact
        if redact.needed(data):
            rec.events = [_redacted_event(e, redact) for e in events]
            summary = _summarize(rec, self._runs)
            data = encode_json(event_rows(rec.events))
            summary.attributes = redact(summary.attributes)
        texts = [*encode_all([summary.inputs, summary.outputs, summary.attributes]), data]
        first = rec.summary is None
        rec.summary = summary
        rec.finished = True
        rec.data, rec.events = data, None
        if self.store is not None:  # rows in the store's column order (RUN_COLUMNS; run_id, trace_id, data)
            su = summary
            self._pending[0].append((
                su.run_id, su.trace_id, su.parent_run_id, su.agent_id, su.kind, su.status, su.start, su.end,
                su.duration_ms, su.model, su.input_tokens, su.output_tokens, su.cost, su.model_calls, su.tool_calls,
                su.cache_hits, su.retries, su.error, su.error_type, texts[0], texts[1], texts[2]))
            self._pending[1].append((su.run_id, su.trace_id, texts[3]))
        if rec.parent_run_id is None and first:
            self._roots.append(rec.run_id)
            self._export(rec)
            while len(self._roots) > self.max_traces:
                self._evict(self._roots.popleft())

    def _export(self, rec: _Rec) -> None:
        if not self.exporters or rec.exported:
            return
        rec.exported = True
        trace = self._trace(rec)
        for exporter in self.exporters:
            try:
                exporter.export(trace)
            except Exception as exc:  # noqa: BLE001 - reported by flush()
                self._errors.append(TracingError(f"exporter {type(exporter).__name__} failed on run "
                                                 f"{rec.run_id}: {type(exc).__name__}: {exc}"))

    def _evict(self, run_id: str) -> None:
        rec = self._runs.pop(run_id, None)
        if rec is not None:
            self._implicit_ids.discard(run_id)
            for child in rec.children:
                self._evict(child)

    # ---------------------------------------------------------------------------------------- queries
    def _tree(self, rec: _Rec) -> list[_Rec]:
        out, stack = [], [rec]
        while stack:
            r = stack.pop()
            out.append(r)
            stack.extend(self._runs[c] for c in reversed(r.children) if c in self._runs)
        return out

    def _trace(self, rec: _Rec) -> Trace:
        recs = self._tree(rec)
        streams = [r.read() for r in recs]
        builder = build_spans(streams)
        spans: list[Span] = []
        events: list[dict[str, Any]] = []
        summaries = []
        for r, stream in zip(recs, streams, strict=True):
            run = builder.runs.get(r.run_id)
            own = run.spans if run is not None else []
            if r.finished and r.summary is not None:  # payloads were checked (and redacted) when it finished
                spans.extend(own)
                summaries.append(r.summary)
                events.extend(event_dict(e) for e in stream if e.kind not in _META)
            else:  # still running: redacted copies
                summaries.append(self._live_summary(r, builder))
                spans.extend(self._redacted_copy(s) for s in own)
                events.extend(self._redact(event_dict(e)) for e in stream if e.kind not in _META)
        spans.sort(key=lambda s: (s.start, s.kind != "run"))
        events.sort(key=lambda e: e["ts"])
        return Trace(summaries[0], spans, events, summaries)

    def _live_summary(self, rec: _Rec, builder: SpanBuilder | None = None) -> RunSummary:
        if builder is None:
            builder = build_spans([rec.read()])
        run = builder.runs.get(rec.run_id)
        if run is None:  # an implicit parent with no events of its own yet
            s = _summarize(rec, self._runs)
        else:
            s = builder._summary(run) if run.implicit else _running_summary(run)
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
            rec = self._runs.get(run_id)
            if rec is not None:
                return self._trace(rec)
        if self.store is not None:
            self.store.flush()
            trace = trace_from_store(self.store, run_id)
            if trace is not None:
                return trace
        latest = [r.run_id for r in list(self._runs.values())[-5:]]
        raise KeyError(f"no run {run_id!r} was traced; latest runs: {latest} (was the tracer started "
                       "before the run?)")

    def events(self, run_id: str) -> list[Any]:
        """The typed events of ``run_id`` (redacted as stored), from memory or else from the store.

        Raises:
            KeyError: no run with that id was recorded.
        """
        self._process()
        with self._lock:
            rec = self._runs.get(run_id)
            if rec is not None:
                if rec.finished:
                    return [e for e in rec.read() if e.kind not in _META]
                return [_redacted_event(e, self._redact) for e in rec.read() if e.kind not in _META]
        if self.store is not None:
            self.store.flush()
            data = self.store.run_events([run_id]).get(run_id)
            if data is not None:
                return [e for e in decode_events(run_id, data) if e.kind not in _META]
        raise KeyError(f"no run {run_id!r} was traced (was the tracer started before the run?)")

    def spans(self, run_ids: Iterable[str]) -> list[Span]:
        """The spans each of ``run_ids`` owns (not its sub-runs'), from memory or else the store (one query)."""
        ids = list(run_ids)
        self._process()
        out: list[Span] = []
        missing = []
        with self._lock:
            for run_id in ids:
                rec = self._runs.get(run_id)
                if rec is None:
                    missing.append(run_id)
                else:
                    out.extend(s for s in self._trace(rec).spans if s.run_id == run_id)
        if missing and self.store is not None:
            self.store.flush()
            blobs = self.store.run_events(missing)
            for run_id, data in blobs.items():
                run = build_spans([decode_events(run_id, data)]).runs.get(run_id)
                out.extend(run.spans if run is not None else ())
        return out

    def runs(self, *, agent_id: str | None = None, roots_only: bool = False) -> list[RunSummary]:
        """Summaries of the runs held in memory, oldest first (running ones included)."""
        self._process()
        with self._lock:
            out = []
            for rec in self._runs.values():
                if (agent_id is None or rec.agent_id == agent_id) and not (roots_only and rec.parent_run_id):
                    out.append(rec.summary if rec.finished and rec.summary is not None
                               else self._live_summary(rec))
        return out

    def to_records(self, *, agent_id: str | None = None) -> list[dict[str, Any]]:
        """``runs()`` as flat dicts (DataFrame-friendly)."""
        return [r.to_dict() for r in self.runs(agent_id=agent_id)]

    def __repr__(self) -> str:
        return f"Tracer(active={self.active}, runs={len(self._runs)}, store={self.store!r})"


_META = frozenset({"node_meta", "graph_meta"})
_PAYLOAD_SKIP = frozenset({"run_id", "kind", "ts", "parent_run_id", "step", "status", "duration_ms", "attempt",
                           "input_tokens", "output_tokens", "cost", "cache_hit", "finish", "source"})


def _closed(rec: _Rec) -> bool:
    """No step or node of the run is still open (an implicit run is finished only between steps)."""
    depth = 0
    for e in rec.read():
        if e.kind == "step_started":
            depth += 1
        elif e.kind == "step_finished":
            depth -= 1
    return depth <= 0


def _redacted_event(event: Any, redact: Any) -> Any:
    """A copy of ``event`` with every payload redacted (the original is the caller's, left as it is)."""
    if event.kind in _META:
        return event
    import dataclasses

    changes = {}
    for name in event.__dataclass_fields__:
        if name in _PAYLOAD_SKIP:
            continue
        value = getattr(event, name)
        if isinstance(value, str):
            new: Any = redact.text(value)
        elif isinstance(value, dict | list):
            new = redact(value)
        elif isinstance(value, tuple):
            new = tuple(redact(list(value)))
        else:
            continue
        if new != value:
            changes[name] = new
    return dataclasses.replace(event, **changes) if changes else event


def _summarize(rec: _Rec, runs: dict[str, _Rec]) -> RunSummary:
    """The run's row, counted from its events in one pass (the same values the span builder gives)."""
    agent_id = rec.agent_id
    kind = "pattern" if agent_id.startswith("pattern:") else ("workflow" if agent_id.startswith("workflow")
                                                              else "agent")
    attributes: dict[str, Any] = {"agent_id": agent_id, "run_kind": kind}
    if rec.implicit:
        attributes["implicit"] = True
    start = end = duration = None
    status = "running"
    model = ""
    inputs = outputs = error = error_type = None
    tin = tout = calls = tools = hits = 0
    cost: float | None = None
    retries: list[dict[str, Any]] = []
    graph = None
    failed = False
    events = rec.read()
    for e in events:  # the common kinds first
        k = e.kind
        if k == "step_started":
            continue
        if k == "step_finished":
            if e.status == "error":
                failed = True
        elif k == "model_called":
            calls += 1
            tin += e.input_tokens
            tout += e.output_tokens
            if e.cache_hit:
                hits += 1
            if e.cost is not None:
                cost = (cost or 0.0) + e.cost
            if e.error is not None:
                failed = True
        elif k == "tool_called":
            tools += 1
            if e.error is not None:
                failed = True
        elif k == "retried":
            retries.append({"attempt": e.attempt, "reason": e.reason, "ts": e.ts})
        elif k == "run_started":
            start = e.ts
            inputs = e.inputs
            if e.model:
                model = e.model
                attributes["model"] = e.model
        elif k == "run_finished":
            end, duration, status = e.ts, e.duration_ms, e.status
            outputs, error, error_type = e.outputs, e.error, e.error_type
            if e.error_type:
                attributes["error_type"] = e.error_type
        elif k == "graph_meta":
            graph = e
            attributes["workflow"] = e.name
    if start is None or duration is None:  # an implicit (or unfinished) run: from its first to its last event
        stamps = [e.ts for e in events]
        if start is None:
            start = min(stamps) if stamps else time.time()
    if duration is None:  # it lasted until its last event or sub-run
        ends = [max(stamps) if stamps else start] + [
            c.summary.end for c in map(runs.get, rec.children)
            if c is not None and c.summary is not None and c.summary.end]
        end = max(ends)
        duration = (end - start) * 1000
        status = "error" if failed else "ok"
    if retries:
        attributes["retries"] = retries
    if graph is not None:
        attributes["graph"] = {"nodes": graph.nodes, "edges": graph.edges}
    return RunSummary(rec.run_id, rec.trace_id, rec.parent_run_id, agent_id, kind, status, start, end, duration,
                      model, tin, tout, cost, calls, tools, hits, len(retries), error, error_type, inputs, outputs,
                      attributes)


def build_spans(streams: list[list[Any]]) -> SpanBuilder:
    """The spans of runs whose events are ``streams`` (one list per run, each in order), merged in time."""
    merged: Iterable[Any] = heapq.merge(*streams, key=_TS) if len(streams) > 1 else (streams[0] if streams else [])
    return SpanBuilder().feed_all(merged).close()


def trace_from_store(store: Any, run_id: str) -> Trace | None:
    """Rebuild a ``Trace`` (the run and its sub-runs) from a ``RunStore``; ``None`` if the run is unknown."""
    rows = store.subtree(run_id)
    if not rows:
        return None
    summaries = [RunSummary.from_row(r) for r in rows]
    blobs = store.run_events([s.run_id for s in summaries]) if hasattr(store, "run_events") else {}
    if not blobs:  # written by an older kaizen-lab: spans and events rows
        return legacy_trace_from_store(store, rows)
    streams = [decode_events(s.run_id, blobs[s.run_id]) for s in summaries if s.run_id in blobs]
    builder = build_spans(streams)
    spans = [sp for s in summaries if s.run_id in builder.runs for sp in builder.runs[s.run_id].spans]
    spans.sort(key=lambda s: (s.start, s.kind != "run"))
    events = [event_dict(e) for stream in streams for e in stream if e.kind not in _META]
    events.sort(key=lambda e: e["ts"])
    return Trace(summaries[0], spans, events, summaries)
