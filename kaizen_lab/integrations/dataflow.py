"""Agent memory and execution records on ``kailash-dataflow`` (SQLite file by default, PostgreSQL by URL).

Two DataFlow models hold everything: ``AgentState`` (one row per agent: free-form state, the conversation
history of every session, performance metrics) and ``ExecutionRecord`` (one row per run, written when the run
ends). ``DataFlowStore`` implements ``kaizen_lab.agents.memory.MemoryStore``, so an agent's ``StateManager``
can keep its sessions there; ``enable_persistence(agent)`` wires both up.

Why it is built this way:

- Every write is one SQL statement, so a crash leaves the row as it was before or after, never half-written.
- Appending to a conversation is a compare-and-swap on a ``version`` column (DataFlow's bulk update with a
  ``{"id", "version"}`` filter), retried on conflict, so concurrent writers in any number of threads or
  processes lose nothing. Execution records are inserts keyed by the run id.
- All DataFlow calls run on one private event loop thread per store: its connection pools are bound to the loop
  that created them, and agent runs happen on many loops (a script's, Jupyter's, the API server's).
- DataFlow's documented pitfalls are avoided here: SQLite paths are made absolute (a relative one splits the
  database in two), the query cache is off (it would probe a Redis on localhost), timestamps are naive UTC
  (PostgreSQL ``TIMESTAMP`` rejects aware ones), and stores are closed at exit (an open aiosqlite worker
  thread would keep the process alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kaizen_lab import events as ev
from kaizen_lab.errors import ConfigError, KaizenError, UserError

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent

__all__ = ["MODELS", "DataFlowStore", "ExecutionRecorder", "KaizenDataFlowIntegration", "default_url",
           "enable_persistence", "get_store", "normalize_url"]

T = TypeVar("T")
log = logging.getLogger("kaizen_lab.integrations.dataflow")

#: table name -> the columns each model declares (checked by ``schema_status``)
MODELS: dict[str, tuple[str, ...]] = {
    "agent_states": ("id", "state_data", "conversation_history", "performance_metrics", "version",
                     "last_updated"),
    "execution_records": ("id", "agent_id", "inputs", "outputs", "performance_data", "status", "error",
                          "timestamp"),
}
MAX_HISTORY_TURNS = 2000
_CAS_ATTEMPTS = 200
_INSTALL_HINT = 'DataFlow persistence needs: pip install "kaizen-lab[dataflow]"'


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def default_url(config: Any = None) -> str:
    """The store URL from configuration: PostgreSQL when ``store.backend`` is ``postgresql``, else a SQLite file
    ``dataflow.db`` next to the embedded store (``.kaizen/`` under the working directory by default)."""
    store = getattr(config, "store", None)
    if store is None:
        from kaizen_lab.config import load_config

        store = load_config().store
    if store.backend == "postgresql" and store.url:
        return str(store.url)
    return normalize_url(str(Path(store.path).expanduser().absolute().parent / "dataflow.db"))


def normalize_url(url: str | Path) -> str:
    """A DataFlow URL: ``postgresql://...`` unchanged; SQLite URLs and bare paths become absolute file URLs."""
    text = str(url)
    if text in (":memory:", "sqlite:///:memory:"):
        return ":memory:"
    if text.startswith(("postgresql://", "postgres://", "postgresql+")):
        return "postgresql://" + text.split("://", 1)[1]
    if text.startswith("sqlite:"):
        raw = text.split(":", 1)[1]
        # sqlite:////abs (4 slashes) is absolute; sqlite:///rel (3) is relative to the working directory
        text = "/" + raw.lstrip("/") if raw.startswith("////") else raw.lstrip("/")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(f"unsupported store URL scheme {scheme!r}; use postgresql://user:pass@host/db, "
                          "sqlite:///path/file.db or a file path", path="url", value=scheme)
    file = Path(text).expanduser().absolute()
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file}"


def _redact(url: str) -> str:
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class DataFlowStore:
    """Agent state, conversation memory and execution records in one DataFlow database.

    Args:
        url: ``postgresql://user:pass@host:port/db``, ``sqlite:///path.db`` or a file path; ``None`` uses
            ``default_url()``.
        encryptor: a ``kaizen_lab.security.Encryptor``; when given, turn contents, state data and execution
            inputs/outputs are stored encrypted (authenticated encryption) and decrypted on read.

    Example:
        >>> store = DataFlowStore("sqlite:////tmp/kz.db")                     # doctest: +SKIP
        >>> store.append("qa", "s1", [{"role": "user", "content": "I like tea"}])  # doctest: +SKIP
        >>> store.load("qa", "s1")                                             # doctest: +SKIP
    """

    def __init__(self, url: str | Path | None = None, *, encryptor: Any = None) -> None:
        self.url = normalize_url(url) if url is not None else default_url()
        self.encryptor = encryptor  # kaizen_lab.security.Encryptor: conversation, state and records at rest
        self.backend = "sqlite" if self.url.startswith("sqlite") or self.url == ":memory:" else "postgresql"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kaizen-dataflow", daemon=True)
        self._thread.start()
        self._closed = False
        self._lock = threading.Lock()  # in-process writers queue here; other processes meet at the CAS
        try:
            self.db = self._call(self._open())
        except BaseException:
            self._stop_loop()
            raise

    # -- plumbing -------------------------------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        if self._closed:
            coro.close()
            raise UserError("this DataFlowStore is closed; create a new one (or call get_store(url))")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("DataFlowStore methods can't be called from its own loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _open(self) -> Any:
        try:
            from dataflow import DataFlow
        except ImportError as exc:
            raise ConfigError(f"{_INSTALL_HINT} ({exc})") from None
        # migration_enabled=False: tables are still created on first use, without a ./migrations folder in the
        # working directory; enable_model_persistence=False: no registry tables (and no psycopg 3 probe on PG)
        db = DataFlow(self.url, cache_enabled=False, enable_model_persistence=False, migration_enabled=False)
        from kaizen_lab.integrations._models import declare_models

        declare_models(db)
        try:  # touching each model creates its table now, so errors surface here and not in the first run
            await db.express.count("AgentState", {})
            await db.express.count("ExecutionRecord", {})
        except Exception as exc:
            with contextlib.suppress(Exception):
                await db.close_async()
            raise ConfigError(f"can't open the DataFlow store at {_redact(self.url)}: {exc}; check that the "
                              "database server runs and the URL (user, password, database) is right",
                              path="url", value=_redact(self.url)) from None
        return db

    def _node(self, operation: str) -> Any:
        cls = self.db._nodes[f"AgentState{operation}Node"]
        node = cls()
        node.dataflow_instance = self.db  # node classes are shared between DataFlow instances: bind ours
        return node

    def _seal(self, value: Any) -> Any:
        if self.encryptor is None or value is None:
            return value
        import json

        return {"enc": self.encryptor.encrypt(json.dumps(value, ensure_ascii=False)).decode()}

    def _unseal(self, value: Any) -> Any:
        if not (isinstance(value, dict) and set(value) == {"enc"}):
            return value
        if self.encryptor is None:
            raise ConfigError("this store holds encrypted data: enable security.encryption_enabled and set "
                              "KAIZEN_ENCRYPTION_KEY to read it", path="security.encryption_enabled")
        import json

        return json.loads(self.encryptor.decrypt(value["enc"]))

    def close(self) -> None:
        """Close the database pools and the loop thread (idempotent)."""
        if self._closed:
            return
        with contextlib.suppress(Exception):
            self._call(self.db.close_async(), timeout=15)
        self._closed = True
        if _STORES.get(self.url) is self:
            _STORES.pop(self.url, None)
        recorder = _RECORDERS.get(self.url)
        if recorder is not None and recorder.store is self:
            recorder.close()  # its agents' runs would otherwise fail to write, one warning each
            _RECORDERS.pop(self.url, None)
        self._stop_loop()

    def _stop_loop(self) -> None:
        async def cancel_pending() -> None:
            # e.g. a connection pool still retrying an unreachable server: cancel it, don't leave it dangling
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_pending(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        with contextlib.suppress(RuntimeError):
            self._loop.close()

    def __enter__(self) -> DataFlowStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataFlowStore({_redact(self.url)!r}, {'closed' if self._closed else 'open'})"

    # -- agent state ----------------------------------------------------------------------------------------
    async def _read_state(self, agent_id: str) -> dict[str, Any] | None:
        row = await self.db.express.read("AgentState", agent_id)
        return dict(row) if row else None

    async def _modify(self, agent_id: str, change: Any) -> dict[str, Any]:
        """Apply ``change(row) -> fields`` to the agent's row with compare-and-swap on ``version``."""
        for attempt in range(_CAS_ATTEMPTS):
            row = await self._read_state(agent_id)
            if row is None:
                fresh = {"id": agent_id, "state_data": {}, "conversation_history": [], "performance_metrics": {},
                         "version": 0, "last_updated": _utcnow()}
                fields = change(fresh)
                try:
                    await self.db.express.create("AgentState", {**fresh, **fields, "version": 1})
                    return {**fresh, **fields, "version": 1}
                except Exception:  # noqa: BLE001 - another writer created it first: retry as an update
                    await asyncio.sleep(random.uniform(0, 0.005) * (attempt + 1))
                    continue
            version = int(row.get("version") or 0)
            fields = change(row)
            fields = {**fields, "version": version + 1, "last_updated": _utcnow()}
            result = await self._node("BulkUpdate").async_run(filter={"id": agent_id, "version": version},
                                                              fields=fields)
            if int(result.get("updated") or result.get("processed") or 0) == 1:
                return {**row, **fields}
            await asyncio.sleep(random.uniform(0, 0.002) * min(attempt + 1, 20))
        raise KaizenError(f"could not update the state of agent {agent_id!r} after {_CAS_ATTEMPTS} attempts: "
                          "too many concurrent writers on one agent; retry later")

    def get_state(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's ``AgentState`` row, decrypted (``None`` if it never stored anything)."""
        row = self._call(self._read_state(agent_id))
        if row is not None:
            row["state_data"] = self._unseal(row.get("state_data"))
            row["conversation_history"] = [{**t, "content": self._unseal(t.get("content"))}
                                           for t in row.get("conversation_history") or []]
        return row

    def save_state(self, agent_id: str, state_data: Mapping[str, Any] | None = None, *,
                   performance_metrics: Mapping[str, Any] | None = None, merge: bool = True) -> dict[str, Any]:
        """Store free-form state (merged into the existing dict unless ``merge=False``) and/or metrics."""

        def change(row: dict[str, Any]) -> dict[str, Any]:
            fields: dict[str, Any] = {}
            if state_data is not None:
                merged = {**(self._unseal(row.get("state_data")) or {}), **state_data} if merge \
                    else dict(state_data)
                fields["state_data"] = self._seal(merged)
            if performance_metrics is not None:
                fields["performance_metrics"] = dict(performance_metrics)
            return fields

        with self._lock:
            return self._call(self._modify(agent_id, change))

    # -- MemoryStore protocol -------------------------------------------------------------------------------
    def load(self, agent_id: str, session: str) -> list[dict[str, Any]]:
        """The session's turns, oldest first, as ``{"role", "content"}`` dicts."""
        row = self.get_state(agent_id)
        history = (row or {}).get("conversation_history") or []
        return [{"role": t["role"], "content": t["content"]} for t in history if t.get("session") == session]

    def append(self, agent_id: str, session: str, turns: Sequence[Mapping[str, Any]]) -> None:
        """Append turns atomically; the oldest turns beyond ``MAX_HISTORY_TURNS`` are dropped."""
        stamp = time.time()
        new = [{"session": session, "role": t["role"], "content": self._seal(t["content"]), "ts": stamp}
               for t in turns]

        def change(row: dict[str, Any]) -> dict[str, Any]:
            return {"conversation_history": [*(row.get("conversation_history") or []), *new][-MAX_HISTORY_TURNS:]}

        with self._lock:
            self._call(self._modify(agent_id, change))

    def clear(self, agent_id: str, session: str | None = None) -> None:
        def change(row: dict[str, Any]) -> dict[str, Any]:
            kept = [] if session is None else [t for t in row.get("conversation_history") or []
                                               if t.get("session") != session]
            return {"conversation_history": kept}

        with self._lock:
            self._call(self._modify(agent_id, change))

    def sessions(self, agent_id: str) -> list[str]:
        row = self.get_state(agent_id)
        return list(dict.fromkeys(t.get("session") for t in (row or {}).get("conversation_history") or []))

    # -- execution records ----------------------------------------------------------------------------------
    def record_execution(self, execution_id: str, agent_id: str, inputs: Mapping[str, Any],
                         outputs: Mapping[str, Any] | None, performance_data: Mapping[str, Any] | None = None, *,
                         status: str = "ok", error: str | None = None) -> None:
        """Insert one ``ExecutionRecord`` (the run id is its key, so a retried write can't duplicate it)."""
        from pydantic_core import to_jsonable_python

        data = {"id": execution_id, "agent_id": agent_id, "inputs": self._seal(to_jsonable_python(dict(inputs))),
                "outputs": self._seal(to_jsonable_python(dict(outputs))) if outputs is not None else None,
                "performance_data": to_jsonable_python(dict(performance_data or {})), "status": status,
                "error": error, "timestamp": _utcnow()}
        self._call(self.db.express.create("ExecutionRecord", data))

    def executions(self, agent_id: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest execution records first (of one agent, or of all)."""
        flt = {"agent_id": agent_id} if agent_id else {}
        rows = self._call(self.db.express.list("ExecutionRecord", flt, limit=limit, order_by="-timestamp"))
        if any(isinstance(r.get("inputs"), dict) and "enc" in r["inputs"] for r in rows):
            rows = [{**r, "inputs": self._unseal(r.get("inputs")), "outputs": self._unseal(r.get("outputs"))}
                    for r in rows]
        return rows

    def count_executions(self, agent_id: str | None = None) -> int:
        flt = {"agent_id": agent_id} if agent_id else {}
        return int(self._call(self.db.express.count("ExecutionRecord", flt)))

    def update_performance_metrics(self, agent_id: str, *, window: int = 1000) -> dict[str, Any]:
        """Summarise the agent's last ``window`` records into ``AgentState.performance_metrics``; returns it."""
        rows = self.executions(agent_id, limit=window)
        durations = sorted(float((r.get("performance_data") or {}).get("duration_ms") or 0.0) for r in rows)
        tokens = sum(int((r.get("performance_data") or {}).get("total_tokens") or 0) for r in rows)
        errors = sum(1 for r in rows if r.get("status") != "ok")
        metrics = {"runs": len(rows), "errors": errors, "error_rate": errors / len(rows) if rows else 0.0,
                   "total_tokens": tokens,
                   "p50_ms": durations[len(durations) // 2] if durations else None,
                   "p95_ms": durations[min(len(durations) - 1, int(len(durations) * 0.95))] if durations else None}
        self.save_state(agent_id, performance_metrics=metrics)
        return metrics

    # -- health ---------------------------------------------------------------------------------------------
    def ping(self) -> tuple[bool, str]:
        """(reachable, reason): a real query against the execution table."""
        try:
            n = self.count_executions()
        except Exception as exc:  # noqa: BLE001 - reported as the check's reason
            return False, f"query failed: {type(exc).__name__}: {exc}"
        return True, f"{self.backend} store answered ({n} execution records)"

    def schema_status(self) -> tuple[bool, str]:
        """(current, reason): every table and column the models declare exists in the database."""
        try:
            columns = self._columns()
        except Exception as exc:  # noqa: BLE001 - reported as the check's reason
            return False, f"could not inspect the schema: {type(exc).__name__}: {exc}"
        missing = [f"{table}.{col}" for table, cols in MODELS.items() for col in cols
                   if col not in columns.get(table, set())]
        if missing:
            return False, f"missing columns {missing}; restart once with the current kaizen-lab to migrate"
        return True, f"tables {sorted(MODELS)} have every declared column"

    def _columns(self) -> dict[str, set[str]]:
        import sqlalchemy

        if self.backend == "sqlite":
            url = self.url if self.url != ":memory:" else "sqlite://"
        else:
            url = "postgresql+psycopg2://" + self.url.split("://", 1)[1]
        engine = sqlalchemy.create_engine(url)
        try:
            inspector = sqlalchemy.inspect(engine)
            return {table: {c["name"] for c in inspector.get_columns(table)}
                    for table in MODELS if inspector.has_table(table)}
        finally:
            engine.dispose()


# ------------------------------------------------------------------------------------------------ registry

_STORES: dict[str, DataFlowStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(url: str | Path | None = None, config: Any = None) -> DataFlowStore:
    """The process-wide store for ``url`` (opened on first use, closed at exit).

    With ``config.security.encryption_enabled`` the store encrypts what it keeps (key from
    ``KAIZEN_ENCRYPTION_KEY``); a store already open without encryption is not reused then.
    """
    key = normalize_url(url) if url is not None else default_url(config)
    security = getattr(config, "security", None)
    encryptor = None
    if security is not None and security.encryption_enabled:
        from kaizen_lab.security import KaizenSecurityManager

        encryptor = KaizenSecurityManager(security).encryptor
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is not None and encryptor is not None and store.encryptor is None:
            raise ConfigError(f"the store {_redact(key)} is already open without encryption in this process; "
                              "enable security.encryption_enabled before the first use", path="url")
        if store is None or store._closed:
            store = DataFlowStore(key, encryptor=encryptor)
            _STORES[key] = store
            _register_exit()
        return store


_exit_registered = False


def _close_all() -> None:
    for store in list(_STORES.values()):
        with contextlib.suppress(Exception):
            store.close()


def _register_exit() -> None:
    global _exit_registered
    if _exit_registered:
        return
    _exit_registered = True
    # runs before the interpreter joins non-daemon threads (an open aiosqlite worker would otherwise block exit)
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_close_all)
    else:  # pragma: no cover - every CPython since 3.9 has it
        import atexit

        atexit.register(_close_all)


# ------------------------------------------------------------------------------------------------ recorder


class ExecutionRecorder:
    """Writes one ``ExecutionRecord`` per finished run of the watched agents (from the event stream).

    The write happens synchronously when ``RunFinished`` is recorded, before the caller gets its result, so a
    result that was returned is also a record that was stored.
    """

    def __init__(self, store: DataFlowStore) -> None:
        self.store = store
        self.agent_ids: set[str] = set()
        self._open: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.failures: list[str] = []
        self._remove = ev.add_listener(self._on_event)

    def watch(self, agent_id: str) -> None:
        self.agent_ids.add(agent_id)

    def close(self) -> None:
        self._remove()

    def _on_event(self, event: Any) -> None:
        kind = event.kind
        if kind == "run_started":
            if event.agent_id in self.agent_ids:
                with self._lock:
                    self._open[event.run_id] = {"inputs": dict(event.inputs), "model": event.model,
                                                "parent": event.parent_run_id, "input_tokens": 0,
                                                "output_tokens": 0, "cost": None, "model_calls": 0}
            return
        if kind == "model_called":
            run = self._open.get(event.run_id)
            if run is not None:
                run["input_tokens"] += event.input_tokens
                run["output_tokens"] += event.output_tokens
                run["model_calls"] += 1
                if event.cost is not None:
                    run["cost"] = (run["cost"] or 0.0) + event.cost
            return
        if kind != "run_finished":
            return
        with self._lock:
            run = self._open.pop(event.run_id, None)
        if run is None:
            return
        perf = {"duration_ms": event.duration_ms, "input_tokens": run["input_tokens"],
                "output_tokens": run["output_tokens"], "total_tokens": run["input_tokens"] + run["output_tokens"],
                "cost": run["cost"], "model_calls": run["model_calls"], "model": run["model"],
                "parent_run_id": run["parent"], "error_type": event.error_type}
        from kaizen_lab.redact import redact, redact_text

        try:  # records are traces: API keys, tokens and passwords in them are redacted like everywhere else
            self.store.record_execution(event.run_id, event.agent_id, redact(run["inputs"]),
                                        redact(event.outputs) if event.status == "ok" else None, perf,
                                        status=event.status,
                                        error=redact_text(event.error) if event.error else None)
        except Exception as exc:  # noqa: BLE001 - listeners must not break runs; kept and logged instead
            message = f"execution record {event.run_id} of {event.agent_id!r} not stored: {exc}"
            self.failures.append(message)
            log.warning(message)


_RECORDERS: dict[str, ExecutionRecorder] = {}


def enable_persistence(agent: Agent, url: str | Path | None = None, *, records: bool = True,
                       session: str | None = "default") -> DataFlowStore:
    """Keep ``agent``'s conversation memory in DataFlow and write an execution record per run.

    Args:
        url: ``None`` for the configured store (a SQLite file under ``.kaizen/`` in the working directory),
            or a PostgreSQL URL / SQLite path.
        records: also write one ``ExecutionRecord`` per run.
        session: the memory session of runs that name none, so a plain ``agent.execute(...)`` remembers the
            earlier ones; ``None`` keeps memory to runs that pass ``session=``.

    Returns:
        The ``DataFlowStore`` (shared by every agent persisted to the same URL in this process).
    """
    from kaizen_lab.agents.memory import StateManager

    store = get_store(url, getattr(agent, "config", None))
    max_turns = agent.memory.max_turns if agent.memory is not None else 20
    agent.memory = StateManager(store, max_turns=max_turns)
    agent.default_session = session
    if records:
        with _STORES_LOCK:
            recorder = _RECORDERS.get(store.url)
            if recorder is None or recorder.store is not store:
                if recorder is not None:
                    recorder.close()
                recorder = _RECORDERS[store.url] = ExecutionRecorder(store)
        recorder.watch(agent.agent_id)
    agent.__dict__["persistence"] = store
    return store


# ------------------------------------------------------------------------------------------------ roadmap


class KaizenDataFlowIntegration:
    """The roadmap's ``KaizenDataFlowIntegration(kaizen, dataflow)``: kaizen-lab's two DataFlow models on one
    database, and agents persisted into it.

    Args:
        kaizen: a ``Kaizen`` (its configuration picks the default store and encryption; agent ids resolve
            through it), or ``None``.
        dataflow: a ``DataFlowStore``, a store URL or path, ``None`` for the configured store, or a
            ``dataflow.DataFlow`` instance on a database file or server (the models are declared on it too, so
            its ``express`` API reads what agents write).
    """

    def __init__(self, kaizen: Any = None, dataflow: Any = None) -> None:
        self.kaizen = kaizen
        config = getattr(kaizen, "config", None)
        self._db: Any = None
        if isinstance(dataflow, DataFlowStore):
            self.store = dataflow
        elif dataflow is None or isinstance(dataflow, str | Path):
            self.store = get_store(dataflow, config)
        elif hasattr(dataflow, "model") and hasattr(getattr(dataflow, "config", None), "database"):
            url = str(dataflow.config.database.url)
            if normalize_url(url) == ":memory:":
                raise ConfigError("an in-memory DataFlow can't be shared with kaizen-lab's store (each connection "
                                  "is its own database): give DataFlow a file or server URL", path="dataflow")
            self.store, self._db = get_store(url, config), dataflow
        else:
            raise UserError(f"dataflow must be a DataFlowStore, a store URL, None or a dataflow.DataFlow, got "
                            f"{type(dataflow).__name__}")

    @property
    def db(self) -> Any:
        """The ``dataflow.DataFlow`` the models are declared on."""
        return self._db if self._db is not None else self.store.db

    def _models(self) -> dict[str, Any]:
        models = dict(self.db.get_models())
        if "AgentState" not in models:
            from kaizen_lab.integrations._models import declare_models

            declare_models(self.db)
            models = dict(self.db.get_models())
        return models

    def create_agent_model(self, agent: Any = None) -> Any:
        """The ``AgentState`` model class (one row per agent: state, conversation history, metrics). Given an
        agent (or its id), that agent's memory and execution records are kept in this database from now on."""
        if agent is not None:
            if isinstance(agent, str):
                if self.kaizen is None:
                    raise UserError("pass the Agent itself, or create the integration with a Kaizen to name it")
                agent = self.kaizen.get_agent(agent)
            enable_persistence(agent, self.store.url)
        return self._models()["AgentState"]

    def create_execution_model(self) -> Any:
        """The ``ExecutionRecord`` model class (one row per finished run, keyed by the run id)."""
        return self._models()["ExecutionRecord"]
