"""``RunStore``: runs, spans and events in an embedded SQLite database (WAL), written in batches.

Writers (any number of threads) only enqueue; one writer thread per store commits whole batches in one
transaction, then enforces retention, so recording a run costs the caller a queue put. Readers share the
connection under a lock (SQLite serialises writes anyway; WAL lets other processes read while we write).
``":memory:"`` keeps everything in this process. The schema is versioned; opening an older database applies
the missing migrations in order.
"""

from __future__ import annotations

import atexit
import json
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from kaizen_lab.errors import ConfigError, KaizenError
from kaizen_lab.store._schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["RunStore", "StoreError", "default_store_path"]

_RUN_COLS = ("run_id", "trace_id", "parent_run_id", "agent_id", "kind", "status", "start_ts", "end_ts",
             "duration_ms", "model", "input_tokens", "output_tokens", "cost", "model_calls", "tool_calls",
             "cache_hits", "retries", "error", "error_type", "inputs", "outputs", "attributes")
_SPAN_COLS = ("span_id", "trace_id", "run_id", "parent_id", "kind", "name", "start_ts", "end_ts", "duration_ms",
              "status", "error", "inputs", "outputs", "attributes")
_EVENT_COLS = ("run_id", "trace_id", "seq", "kind", "ts", "data")
# a stored row of ``runs``: the run's columns, then all of its events as one JSON text (the tracer's rows)
_RUN_ROW_COLS = (*_RUN_COLS, "events")
_RUN_SELECT = ", ".join(_RUN_COLS)
_JSON_COLS = frozenset({"inputs", "outputs", "attributes", "data"})
_PARENT = 2  # position of parent_run_id in a run row
# record dicts use the span/run field names ``start``/``end``; the columns are ``start_ts``/``end_ts``
_ALIASES = {"start_ts": "start", "end_ts": "end"}
_STOP = object()
RUN_COLUMNS, SPAN_COLUMNS, EVENT_COLUMNS = _RUN_COLS, _SPAN_COLS, _EVENT_COLS


class _Rows:
    __slots__ = ("runs", "spans", "events", "run_events")

    def __init__(self, runs: list[tuple[Any, ...]], spans: Sequence[tuple[Any, ...]],
                 events: Sequence[tuple[Any, ...]], run_events: Sequence[tuple[Any, ...]]) -> None:
        self.runs, self.spans, self.events, self.run_events = runs, spans, events, run_events


class StoreError(KaizenError):
    """The run store could not write or read (disk full, locked by another program, damaged file)."""


def default_store_path(config: Any = None) -> str:
    """Where traces go by default: ``tracing.store_path`` (``.kaizen/traces.db`` under the working directory),
    or ``":memory:"`` when ``tracing.in_memory`` is set."""
    if config is None:
        from kaizen_lab.config import load_config

        config = load_config()
    path = config.tracing.resolved_store_path()
    return ":memory:" if path is None else str(path)


def _insert_sql(table: str, cols: Sequence[str]) -> str:
    return f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


_INSERT_RUN = _insert_sql("runs", _RUN_ROW_COLS)
# a run stored again without events (``write()``) keeps those stored with it before
_INSERT_RUN_KEEP_EVENTS = (f"INSERT OR REPLACE INTO runs ({', '.join(_RUN_ROW_COLS)}) VALUES "
                           f"({', '.join('?' * len(_RUN_COLS))}, (SELECT events FROM runs WHERE run_id = ?))")


def _value(record: Mapping[str, Any], col: str) -> Any:
    value = record.get(_ALIASES.get(col, col))
    if col in _JSON_COLS and value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _row(record: Mapping[str, Any], cols: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_value(record, c) for c in cols)


def _same(value: Any) -> Any:
    return value


def _bind_none_directly() -> None:
    """Bind ``None`` as NULL without sqlite3's adapter search.

    sqlite3 looks for an adapter for every parameter that is not an exact int, float or str; for ``None`` (before
    Python 3.12) the search raises and discards an ``AttributeError``, about 2k instructions, and a stored run row
    has several NULL columns. An identity adapter for ``NoneType`` is found at once; it returns ``None``, which
    binds as NULL exactly as before, for every connection of the process. One registered by the program is kept.
    """
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _same)


class RunStore:
    """Embedded SQLite store for traces.

    Args:
        path: a file path, ``":memory:"``, or ``None`` for the configured default (``default_store_path``).
        config: a ``KaizenConfig`` for the defaults (path, ``tracing.retention_runs``).
        max_runs: keep at most this many root runs (a root run and all its sub-runs count as one); ``None``
            keeps everything. Default: ``tracing.retention_runs`` from the configuration.
        max_age_s: drop runs that started more than this many seconds ago.
        batch_size: the most records the writer commits in one transaction.
        codec: a ``store._codec.PayloadCodec`` encrypting payload columns at rest, ``None``, or ``"config"``
            (the default): one when ``security.encryption_enabled`` is on.

    Example:
        >>> store = RunStore(":memory:")
        >>> store.write(runs=[{"run_id": "r1", "agent_id": "qa", "status": "ok", "start": 0.0}])
        >>> store.flush(); store.count_runs()
        1
    """

    def __init__(self, path: str | Path | None = None, *, config: Any = None, max_runs: Any = "config",
                 max_age_s: float | None = None, batch_size: int = 2000, codec: Any = "config") -> None:
        # --- encryption at rest (store/_codec.py): payload columns are encrypted on write, decrypted on read
        if codec == "config":
            from kaizen_lab.store._codec import codec_for

            if config is None:
                from kaizen_lab.config import load_config

                config = load_config()
            codec = codec_for(config)
        self.codec = codec
        # ---
        if path is None:
            path = default_store_path(config)
        if max_runs == "config":
            if config is None:
                from kaizen_lab.config import load_config

                config = load_config()
            max_runs = config.tracing.retention_runs
        if max_runs is not None and max_runs < 1:
            raise ConfigError(f"max_runs must be at least 1 or None, got {max_runs}", path="max_runs",
                              value=max_runs)
        if max_age_s is not None and max_age_s <= 0:
            raise ConfigError(f"max_age_s must be positive or None, got {max_age_s}", path="max_age_s",
                              value=max_age_s)
        self.path = str(path)
        self.in_memory = self.path == ":memory:"
        self.max_runs: int | None = max_runs
        self.max_age_s = max_age_s
        self.batch_size = batch_size
        _bind_none_directly()
        if not self.in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            if not self.in_memory:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            # deleted runs are zeroed where that costs no extra I/O (their b-tree pages), not on free pages:
            # "on" (some builds' default) zeroes every freed page too, a quarter of what storing a run costs
            # under retention; payloads are redacted before they are stored, and encrypted at rest if asked
            self._conn.execute("PRAGMA secure_delete=FAST")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the trace store at {self.path}: {exc}; set tracing.store_path to a "
                             "writable file or tracing.in_memory: true") from exc
        self._lock = threading.RLock()
        self._migrate()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._roots: int | None = None  # root runs stored (retention), counted on the first commit
        _open_stores.add(self)

    # ---------------------------------------------------------------------------------------- schema
    @property
    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        with self._lock:
            conn = self._conn
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                         "description TEXT NOT NULL, applied_at REAL NOT NULL)")
            current = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise ConfigError(f"the trace store {self.path} has schema version {current}, newer than this "
                                  f"kaizen-lab understands ({SCHEMA_VERSION}); upgrade kaizen-lab or point "
                                  "tracing.store_path at another file", path="tracing.store_path", value=self.path)
            for version, description, statements in MIGRATIONS:
                if version <= current:
                    continue
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    for sql in statements:
                        conn.execute(sql)
                    conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (version, description, time.time()))
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK")
                    raise StoreError(f"migrating the trace store {self.path} to schema version {version} "
                                     f"({description}) failed: {exc}") from exc

    # ---------------------------------------------------------------------------------------- writing
    def write(self, *, runs: Iterable[Mapping[str, Any]] = (), spans: Iterable[Mapping[str, Any]] = (),
              events: Iterable[Mapping[str, Any]] = ()) -> None:
        """Queue records for the writer thread (returns at once). Records with an existing id replace it.

        Run and span records use the field names of ``RunSummary``/``Span``; events are
        ``{run_id, trace_id, seq, kind, ts, data}``. JSON columns accept text or JSON-able values.
        """
        if self._closed:
            raise StoreError(f"the trace store {self.path} is closed; create a new RunStore")
        item = (tuple(runs), tuple(spans), tuple(events))
        with self._cond:
            self._submitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._writer, name="kaizen-lab-store", daemon=True)
                self._thread.start()
        self._queue.put(item)

    def write_rows(self, runs: list[tuple[Any, ...]], spans: Sequence[tuple[Any, ...]] = (),
                   events: Sequence[tuple[Any, ...]] = (), *, run_events: Sequence[tuple[Any, ...]] = ()) -> None:
        """Queue rows already in column order (``RUN_COLUMNS``/``SPAN_COLUMNS``/``EVENT_COLUMNS``, JSON as text;
        ``run_events``: ``(run_id, trace_id, data)``, all of one run's events as one JSON text, stored in the
        run's own row).

        The tracer's fast path: no per-record conversion on the writer thread.
        """
        if self._closed:
            raise StoreError(f"the trace store {self.path} is closed; create a new RunStore")
        with self._cond:
            self._submitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._writer, name="kaizen-lab-store", daemon=True)
                self._thread.start()
        self._queue.put(_Rows(runs, spans, events, run_events))

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until everything queued so far is committed.

        Raises:
            StoreError: a batch failed to commit (the first failure since the last flush), or the wait timed out.
        """
        with self._cond:
            target = self._submitted
            if not self._cond.wait_for(lambda: self._written >= target, timeout):
                raise StoreError(f"the trace store {self.path} did not commit within {timeout}s; another "
                                 "program may hold a write lock on it")
            errors, self._errors = self._errors, []
        if errors:
            raise StoreError(f"writing to the trace store {self.path} failed: {errors[0]}") from errors[0]

    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.batch_size:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            try:
                self._commit(batch)
            except Exception:  # noqa: BLE001 - one bad record must not take its batch-mates down with it
                for one in batch:
                    try:
                        self._commit([one])
                    except Exception as exc:  # noqa: BLE001 - reported by the next flush()
                        with self._cond:
                            self._errors.append(exc)
            with self._cond:
                self._written += len(batch)
                self._cond.notify_all()
            if stop:
                return

    def _commit(self, batch: list[Any]) -> None:
        runs: list[tuple[Any, ...]] = []
        spans: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        run_events: list[tuple[Any, ...]] = []
        for item in batch:
            if isinstance(item, _Rows):
                runs += item.runs
                spans += item.spans
                events += item.events
                run_events += item.run_events
            else:
                runs += [_row(r, _RUN_COLS) for r in item[0]]
                spans += [_row(s, _SPAN_COLS) for s in item[1]]
                events += [_row(e, _EVENT_COLS) for e in item[2]]
        # a run's events go into its own row: one row (one b-tree and its indexes) per stored run, not two
        late: list[tuple[Any, ...]] = []
        bare: list[tuple[Any, ...]] = []  # runs without events (``write()``): they keep those stored before
        if run_events:
            data = {e[0]: e[2] for e in run_events}
            runs = [(*r, data.pop(r[0], None)) for r in runs]
            late = [(d, rid) for rid, d in data.items()]  # events of a run stored in an earlier batch
            if None in map(itemgetter(-1), runs):
                bare = [(*r[:-1], r[0]) for r in runs if r[-1] is None]
                runs = [r for r in runs if r[-1] is not None]
        else:
            bare, runs = [(*r, r[0]) for r in runs], []
        if self.codec is not None:  # encryption at rest (store/_codec.py)
            runs = self.codec.encode_rows(runs, _RUN_ROW_COLS)
            bare = self.codec.encode_rows(bare, _RUN_COLS)
            spans = self.codec.encode_rows(spans, _SPAN_COLS)
            events = self.codec.encode_rows(events, _EVENT_COLS)
            late = self.codec.encode_rows(late, ("events", "run_id"))
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if runs:
                    conn.executemany(_INSERT_RUN, runs)
                if bare:
                    conn.executemany(_INSERT_RUN_KEEP_EVENTS, bare)
                if spans:
                    conn.executemany(_insert_sql("spans", _SPAN_COLS), spans)
                if events:
                    conn.executemany(_insert_sql("events", _EVENT_COLS), events)
                if late:
                    conn.executemany("UPDATE runs SET events = ? WHERE run_id = ?", late)
                if runs or bare:
                    self._enforce_retention(conn, sum(1 for r in (*runs, *bare) if r[_PARENT] is None))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _enforce_retention(self, conn: sqlite3.Connection, new_roots: int) -> None:
        # The root count is kept in memory (counted once), so a commit under the limit costs no query; over
        # it, the oldest roots come straight off the ``runs_roots`` index and go with their whole trace.
        doomed: list[tuple[str]] = []
        if self.max_runs is not None:
            if self._roots is None:
                self._roots = int(conn.execute("SELECT COUNT(*) FROM runs WHERE parent_run_id IS NULL").fetchone()[0])
            else:
                self._roots += new_roots  # an over-count (a replaced root) only costs one exact count below
            if self._roots > self.max_runs:
                self._roots = int(conn.execute("SELECT COUNT(*) FROM runs WHERE parent_run_id IS NULL").fetchone()[0])
                excess = self._roots - self.max_runs
                if excess > 0:
                    doomed += conn.execute("SELECT trace_id FROM runs WHERE parent_run_id IS NULL ORDER BY start_ts "
                                           "LIMIT ?", (excess,)).fetchall()
                    self._roots -= excess
        if self.max_age_s is not None:
            cutoff = time.time() - self.max_age_s
            aged = conn.execute("SELECT trace_id FROM runs WHERE parent_run_id IS NULL AND start_ts < ?",
                                (cutoff,)).fetchall()
            doomed += aged
            if self._roots is not None:
                self._roots = None  # recounted on the next commit
        ids = [d[0] for d in doomed]
        if not ids:
            return
        # the tracer stores a run and its events in one row: span and event rows only come from ``write()``, so
        # those tables are often empty, and a delete there would still look up every doomed run
        spans, events = conn.execute("SELECT EXISTS (SELECT 1 FROM spans), EXISTS (SELECT 1 FROM events)").fetchone()
        for i in range(0, len(ids), 500):  # a few statements per commit, not four per doomed trace
            chunk = ids[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            if events:
                conn.execute(f"DELETE FROM events WHERE run_id IN (SELECT run_id FROM runs WHERE trace_id IN ({marks}))",
                             chunk)
            if spans:
                conn.execute(f"DELETE FROM spans WHERE trace_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM runs WHERE trace_id IN ({marks})", chunk)

    def close(self) -> None:
        """Commit what is queued and close the database."""
        if self._closed:
            return
        if self._thread is not None:
            self.flush(timeout=None)
            self._queue.put(_STOP)
            self._thread.join()
        self._closed = True
        with self._lock:
            self._conn.close()
        _open_stores.discard(self)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------- reading
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(sql, params)
            names = [_ALIASES.get(d[0], d[0]) for d in cur.description]
            rows = cur.fetchall()
        records = [dict(zip(names, row, strict=True)) for row in rows]
        if self.codec is not None:  # encryption at rest (store/_codec.py)
            for record in records:
                self.codec.decode_record(record)
        return records

    def count_runs(self, *, roots_only: bool = False) -> int:
        where = " WHERE parent_run_id IS NULL" if roots_only else ""
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM runs{where}").fetchone()[0])

    def runs(self, *, agent_id: str | None = None, trace_id: str | None = None, status: str | None = None,
             since: float | None = None, before: float | None = None, roots_only: bool = False,
             limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Run rows, newest first (JSON columns as text; ``RunSummary.from_row`` decodes them).

        Page with ``limit`` plus either ``before`` (the ``start`` of the last row of the previous page: the
        cost stays flat however deep the page) or ``offset``. Every filter is served by an index.
        """
        clauses: list[str] = []
        params: list[Any] = []
        for col, value in (("agent_id", agent_id), ("trace_id", trace_id), ("status", status)):
            if value is not None:
                clauses.append(f"{col} = ?")
                params.append(value)
        if since is not None:
            clauses.append("start_ts >= ?")
            params.append(since)
        if before is not None:
            clauses.append("start_ts < ?")
            params.append(before)
        if roots_only:
            clauses.append("parent_run_id IS NULL")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit is not None else (" LIMIT -1" if offset else "")
        if offset:
            tail += f" OFFSET {int(offset)}"
        return self._query(f"SELECT {_RUN_SELECT} FROM runs{where} ORDER BY start_ts DESC{tail}", params)

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query(f"SELECT {_RUN_SELECT} FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    def spans(self, *, run_id: str | None = None, trace_id: str | None = None, kind: str | None = None,
              run_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Span rows in start order, for one run, several runs (``run_ids``: one query) or one whole trace."""
        clauses, params = [], []
        if run_ids is not None:
            ids = list(dict.fromkeys(run_ids))
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            # through the trace index: spans are indexed by trace, runs by id
            clauses.append(f"trace_id IN (SELECT trace_id FROM runs WHERE run_id IN ({marks})) "
                           f"AND run_id IN ({marks})")
            params += ids + ids
        if run_id is not None and trace_id is None:  # through the trace index
            clauses.append("trace_id = (SELECT trace_id FROM runs WHERE run_id = ?)")
            params.append(run_id)
        for col, value in (("run_id", run_id), ("trace_id", trace_id), ("kind", kind)):
            if value is not None:
                clauses.append(f"{col} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._query(f"SELECT * FROM spans{where} ORDER BY start_ts, span_id", params)

    def events(self, *, run_id: str | None = None, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Event rows (``data`` is the redacted event as JSON text) in recorded order."""
        if run_id is not None:
            return self._query("SELECT * FROM events WHERE run_id = ? ORDER BY ts, seq", (run_id,))
        return self._query("SELECT * FROM events WHERE run_id IN (SELECT run_id FROM runs WHERE trace_id = ?) "
                           "ORDER BY ts, seq", (trace_id,))

    def run_events(self, run_ids: Sequence[str]) -> dict[str, str]:
        """``{run_id: data}`` for the runs the tracer stored (``data``: all of a run's events, JSON text)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
            chunk = ids[i:i + 500]
            rows = self._query(f"SELECT run_id, events AS data FROM runs WHERE run_id IN ({', '.join('?' * len(chunk))}) "
                               "AND events IS NOT NULL", chunk)
            out.update((r["run_id"], r["data"]) for r in rows)
        return out

    def agent_ids(self) -> list[str]:
        """Every agent id stored, sorted: one index seek per agent (not a scan of every run)."""
        out: list[str] = []
        with self._lock:
            row = self._conn.execute("SELECT MIN(agent_id) FROM runs").fetchone()
            while row is not None and row[0] is not None:
                out.append(row[0])
                row = self._conn.execute("SELECT MIN(agent_id) FROM runs WHERE agent_id > ?", (row[0],)).fetchone()
        return out

    def subtree(self, run_id: str) -> list[dict[str, Any]]:
        """The run and every run below it (via ``parent_run_id``, indexed), in start order."""
        return self._query(f"""WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL
                              SELECT r.run_id FROM runs r JOIN tree t ON r.parent_run_id = t.id)
                              SELECT {_RUN_SELECT} FROM runs WHERE run_id IN (SELECT id FROM tree) ORDER BY start_ts""",
                           (run_id,))

    def __repr__(self) -> str:
        return f"RunStore({self.path!r}, max_runs={self.max_runs}, max_age_s={self.max_age_s})"


_open_stores: weakref.WeakSet[RunStore] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # commit what is queued when the interpreter exits
    for store in list(_open_stores):
        try:
            store.close()
        except Exception:  # noqa: BLE001, S110 - exiting; nothing left to report to
            pass
