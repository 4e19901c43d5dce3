"""A tamper-evident, append-only audit trail.

Every record carries the hash of the record before it, and its own hash is ``sha256`` over a canonical JSON of
its fields (sequence number, time, user, operation, resource, result, details and the previous hash). With
``key=`` the hash becomes an HMAC, so someone who can write the database but lacks the key cannot re-forge the
chain. ``verify()`` walks the chain and names the first row that was edited, deleted, reordered or inserted.

A chain kept in the same database cannot prove that nothing was cut off its end: after deleting the last rows
(or every row) and rewriting the in-table head, what remains is a valid chain. So the head is also anchored
outside the database: after each append a checkpoint of the new head goes to a witness (by default a
``<audit file>.witness`` JSON-lines file next to a SQLite log; any path or callable sink can be given), signed
when there is a key; ``verify()`` reports ``truncated`` when the chain no longer reaches the latest checkpoint.
A caller may also keep ``head()``/``checkpoint()`` itself and pass it as ``verify(expected_head=...)``.

What an intruder with write access to the database (but not to the witness, and without the key) can and
cannot hide is listed in ``docs/security.md``; in short: any edit, deletion, reordering, insertion, truncation
or wipe is reported, but rows appended after the last checkpoint the witness kept are only as safe as the
database, and an intruder who also controls the witness (or holds the key) can rewrite history consistently.

Storage is SQLite in WAL mode by default (stdlib) or PostgreSQL (psycopg2) for a ``postgresql://`` URL. Triggers
refuse UPDATE and DELETE on the table; appends are serialized by a process lock plus a database lock
(``BEGIN IMMEDIATE`` / ``SELECT ... FOR UPDATE`` on the head row), so concurrent writers never fork the chain.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kaizen_lab.errors import ConfigError
from kaizen_lab.redact import redact
from kaizen_lab.security.witness import FileWitness, sign_checkpoint, verify_checkpoint

__all__ = [
    "GENESIS_HASH",
    "AuditLogger",
    "AuditRecord",
    "AuditVerification",
    "acting_as",
    "attach_to_events",
    "canonical_json",
    "current_principal",
]

GENESIS_HASH = "0" * 64
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
_FIELDS = "seq, ts, user_id, operation, resource, result, details, prev_hash, hash"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text; non-JSON values as ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class AuditRecord:
    """One audit row; ``details`` is the canonical JSON text that was hashed."""

    seq: int
    ts: str
    user_id: str
    operation: str
    resource: str
    result: str
    details: str
    prev_hash: str
    hash: str

    @property
    def details_dict(self) -> Any:
        """``details`` parsed back from JSON."""
        return json.loads(self.details) if self.details else None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the row."""
        return asdict(self)


@dataclass(frozen=True)
class AuditVerification:
    """Result of ``AuditLogger.verify()``; truthy when the chain is intact.

    ``problem`` is one of ``"edited"``, ``"deleted"``, ``"reordered"``, ``"truncated"`` (rows cut off the end,
    or the whole table wiped), ``"inserted"``, ``"bad_checkpoint"`` (a witness checkpoint that is malformed or
    not signed with the audit key) or ``None``; ``first_bad_seq`` is the sequence number of the first row that
    is wrong or missing.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    message: str = "audit chain intact"

    def __bool__(self) -> bool:
        return self.ok


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


class _Backend:
    """The few SQL statements that differ between SQLite and PostgreSQL."""

    placeholder = "?"

    def __init__(self, target: str, table: str) -> None:
        self.target = target
        self.table = table
        self.conn: Any = None

    def connect(self) -> None:
        raise NotImplementedError

    def schema(self) -> list[str]:
        raise NotImplementedError

    def begin_append(self, cur: Any) -> None:
        raise NotImplementedError

    def lock_head_sql(self) -> str:
        return f"SELECT seq, hash FROM {self.table}_head WHERE id = 1"

    def is_closed(self) -> bool:
        return self.conn is None


class _SQLite(_Backend):
    def connect(self) -> None:
        import sqlite3

        if self.target != ":memory:":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so the write lock is taken before reading
        # the head row (two processes can never both append after the same row).
        self.conn = sqlite3.connect(self.target, timeout=30, isolation_level=None, check_same_thread=False)
        if self.target != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    def schema(self) -> list[str]:
        t = self.table
        return [
            f"CREATE TABLE IF NOT EXISTS {t} (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, user_id TEXT NOT NULL, "
            "operation TEXT NOT NULL, resource TEXT NOT NULL, result TEXT NOT NULL, details TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t}_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, "
            "hash TEXT NOT NULL)",
            f"INSERT OR IGNORE INTO {t}_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
            f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
            "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
            f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
            "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
        ]

    def begin_append(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")


class _Postgres(_Backend):
    placeholder = "%s"

    def connect(self) -> None:
        try:
            import psycopg2
        except ImportError:
            raise ConfigError('PostgreSQL audit storage needs psycopg2: pip install "kaizen-lab[dataflow]" '
                              "(or psycopg2-binary)", path="security.audit_path") from None
        self.conn = psycopg2.connect(self.target)
        self.conn.autocommit = False

    def schema(self) -> list[str]:
        t = self.table
        return [
            f"CREATE TABLE IF NOT EXISTS {t} (seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, user_id TEXT NOT NULL, "
            "operation TEXT NOT NULL, resource TEXT NOT NULL, result TEXT NOT NULL, details TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t}_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, "
            "hash TEXT NOT NULL)",
            f"INSERT INTO {t}_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT (id) DO NOTHING",
            f"CREATE OR REPLACE FUNCTION {t}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
            f"DROP TRIGGER IF EXISTS {t}_no_change ON {t}",
            f"CREATE TRIGGER {t}_no_change BEFORE UPDATE OR DELETE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION {t}_append_only()",
        ]

    def begin_append(self, cur: Any) -> None:
        pass  # psycopg2 opens a transaction implicitly; FOR UPDATE on the head row serializes writers

    def lock_head_sql(self) -> str:
        return super().lock_head_sql() + " FOR UPDATE"

    def is_closed(self) -> bool:
        return self.conn is None or bool(self.conn.closed)


class AuditLogger:
    """Append-only, hash-chained audit records in SQLite (default) or PostgreSQL.

    Args:
        path_or_url: a file path (SQLite, created with its directory), ``":memory:"``, or a
            ``postgresql://`` URL. Default: ``.kaizen/audit.db`` in the working directory.
        table: table name (letters, digits, underscores).
        key: optional secret; when given the chain uses HMAC-SHA256 so it cannot be recomputed without it.
        redact_details: pass ``details`` and ``resource`` through secret redaction before storing them.
        witness: where checkpoints of the head go after each append: a file path, a callable taking the
            checkpoint dict, ``None`` for none, or ``"auto"`` (the default): ``<audit file>.witness`` for a
            SQLite file, none for ``":memory:"`` and PostgreSQL (give one there). Only a file witness is read
            back by ``verify()``; with a callable, pass the last checkpoint as ``verify(expected_head=...)``.
    """

    def __init__(self, path_or_url: str | Path | None = None, *, table: str = "kaizen_audit",
                 key: str | bytes | None = None, redact_details: bool = True,
                 witness: str | Path | Callable[[dict[str, Any]], None] | None = "auto") -> None:
        if not _TABLE.match(table):
            raise ConfigError(f"audit table name {table!r} must be letters, digits and underscores",
                              path="table", value=table)
        target = str(path_or_url) if path_or_url is not None else ".kaizen/audit.db"
        if target.startswith(("postgresql://", "postgres://")):
            self._backend: _Backend = _Postgres(target, table)
        elif "://" in target:
            raise ConfigError(f"audit storage {target.split('://')[0]!r}:// is not supported; use a file path or "
                              "a postgresql:// URL", path="security.audit_path")
        else:
            if target != ":memory:":
                target = str(Path(target).expanduser().absolute())
            self._backend = _SQLite(target, table)
        self.table = table
        self._key = key.encode() if isinstance(key, str) else key
        self._redact = redact_details
        self._lock = threading.RLock()
        if witness == "auto":
            is_file = isinstance(self._backend, _SQLite) and target != ":memory:"
            witness = f"{target}.witness" if is_file else None
        self.witness: Callable[[dict[str, Any]], None] | None = (
            FileWitness(witness) if isinstance(witness, str | Path) else witness)
        self._open()
        self._catch_up_witness()

    # -- connection ------------------------------------------------------------------------------------------

    def _open(self) -> None:
        self._backend.connect()
        cur = self._backend.conn.cursor()
        try:
            for statement in self._backend.schema():
                cur.execute(statement)
            self._backend.conn.commit()
        except Exception:
            self._backend.conn.rollback()
            raise
        finally:
            cur.close()

    def _catch_up_witness(self) -> None:
        # A log written before it had a witness (or while the witness was unreachable) is anchored from now on.
        if isinstance(self.witness, FileWitness):
            seen = max((int(c["seq"]) for c in self.witness.read() if c and verify_checkpoint(c, self._key)),
                       default=0)
            seq, digest = self.head()
            if seq > seen:
                self.witness(sign_checkpoint(seq, digest, _now(), self._key))

    def checkpoint(self) -> dict[str, Any]:
        """A (signed, with a key) checkpoint of the current head: keep it anywhere and pass it to
        ``verify(expected_head=...)`` later."""
        seq, digest = self.head()
        return sign_checkpoint(seq, digest, _now(), self._key)

    @property
    def location(self) -> str:
        """Where records are stored (a PostgreSQL URL is shown without its password)."""
        from kaizen_lab.redact import redact_text

        return redact_text(self._backend.target)

    def close(self) -> None:
        """Close the database connection (and a file witness)."""
        with self._lock:
            if not self._backend.is_closed():
                self._backend.conn.close()
            self._backend.conn = None
            if isinstance(self.witness, FileWitness):
                self.witness.close()

    def __enter__(self) -> AuditLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _abandon_transaction(self) -> None:
        # A dropped connection cannot roll back; close it so the next call reconnects instead of failing forever.
        try:
            self._backend.conn.rollback()
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            try:
                self._backend.conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._backend.conn = None

    def _conn(self) -> Any:
        if self._backend.is_closed():
            self._open()
        return self._backend.conn

    # -- hashing ---------------------------------------------------------------------------------------------

    def _hash(self, seq: int, ts: str, user_id: str, operation: str, resource: str, result: str, details: str,
              prev_hash: str) -> str:
        payload = canonical_json({"seq": seq, "ts": ts, "user": user_id, "operation": operation,
                                  "resource": resource, "result": result, "details": details,
                                  "prev": prev_hash}).encode()
        if self._key is not None:
            return hmac.new(self._key, payload, hashlib.sha256).hexdigest()
        return hashlib.sha256(payload).hexdigest()

    def _row_hash(self, row: tuple[Any, ...], seq: int | None = None) -> str:
        s, ts, user_id, operation, resource, result, details, prev_hash, _h = row
        return self._hash(int(s if seq is None else seq), ts, user_id, operation, resource, result, details,
                          prev_hash)

    # -- writing ---------------------------------------------------------------------------------------------

    def log_operation(self, user: Any, operation: str, resource: str, result: Any,
                      details: Mapping[str, Any] | None = None) -> AuditRecord:
        """Append one record and return it.

        Args:
            user: a principal id, or an ``AuthResult``-like object with ``principal``.
            operation: what was attempted (``execute``, ``call``, ``authenticate`` ...).
            resource: what it was attempted on (``agent/qa``, ``tool/filesystem.read`` ...).
            result: ``"allowed"``, ``"denied"``, ``"success"``, ``"failure"`` ...; booleans become
                ``"success"``/``"failure"``.
            details: extra JSON-compatible data (redacted before storing).
        """
        user_id = str(getattr(user, "principal", user) if not isinstance(user, str) else user) if user else "anonymous"
        result_text = ("success" if result else "failure") if isinstance(result, bool) else str(result)
        data = dict(details or {})
        if self._redact:
            data, resource = redact(data), redact(str(resource))
        details_text = canonical_json(data)
        p = self._backend.placeholder
        with self._lock:
            conn = self._conn()
            cur = conn.cursor()
            try:
                self._backend.begin_append(cur)
                cur.execute(self._backend.lock_head_sql())
                head_seq, head_hash = cur.fetchone()
                seq, ts = int(head_seq) + 1, _now()
                digest = self._hash(seq, ts, user_id, operation, str(resource), result_text, details_text,
                                    head_hash)
                cur.execute(f"INSERT INTO {self.table} ({_FIELDS}) VALUES ({', '.join([p] * 9)})",
                            (seq, ts, user_id, operation, str(resource), result_text, details_text, head_hash,
                             digest))
                cur.execute(f"UPDATE {self.table}_head SET seq = {p}, hash = {p} WHERE id = 1", (seq, digest))
                conn.commit()
            except BaseException:
                self._abandon_transaction()
                raise
            finally:
                cur.close()
            if self.witness is not None:  # after the commit: a witness ahead of the table would be a false alarm
                self.witness(sign_checkpoint(seq, digest, ts, self._key))
        return AuditRecord(seq, ts, user_id, operation, str(resource), result_text, details_text, head_hash, digest)

    # -- reading ---------------------------------------------------------------------------------------------

    def _rows(self, since_seq: int = 0, limit: int | None = None) -> Iterator[tuple[Any, ...]]:
        p = self._backend.placeholder
        sql = f"SELECT {_FIELDS} FROM {self.table} WHERE seq > {p} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            conn = self._conn()
            cur = conn.cursor()
            try:
                cur.execute(sql, (since_seq,))
                rows = cur.fetchall()
                conn.commit()  # end the read transaction (PostgreSQL) so it holds no snapshot
            finally:
                cur.close()
        yield from rows

    def records(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """Records in order, after ``since_seq``."""
        return [AuditRecord(int(r[0]), *r[1:]) for r in self._rows(since_seq, limit)]

    def head(self) -> tuple[int, str]:
        """(last sequence number, its hash): keep it elsewhere to anchor the chain against wholesale rewrites."""
        with self._lock:
            conn = self._conn()
            cur = conn.cursor()
            try:
                cur.execute(self._backend.lock_head_sql().replace(" FOR UPDATE", ""))
                seq, digest = cur.fetchone()
                conn.commit()
            finally:
                cur.close()
        return int(seq), str(digest)

    def __len__(self) -> int:
        return self.head()[0]

    # -- verification ----------------------------------------------------------------------------------------

    def verify(self, *, expected_head: tuple[int, str] | Mapping[str, Any] | None = None) -> AuditVerification:
        """Walk the chain and report the first edited, deleted, reordered, inserted or truncated row.

        The chain must also still contain every checkpoint of the file witness (when there is one) and
        ``expected_head``; a chain that ends before one of them was truncated (or wiped, when it is empty).

        Args:
            expected_head: a ``head()`` tuple or ``checkpoint()`` dict saved elsewhere earlier.
        """
        rows = list(self._rows())
        by_hash: dict[str, int] | None = None
        prev, expected, checked = GENESIS_HASH, 1, 0
        for row in rows:
            seq, stored_hash, prev_hash = int(row[0]), row[8], row[7]
            if seq != expected:
                return AuditVerification(False, checked, expected, "deleted",
                                         f"row {expected} is missing (deleted); the chain resumes at row {seq}")
            if self._row_hash(row) != stored_hash:
                if by_hash is None:
                    by_hash = {r[8]: int(r[0]) for r in rows}
                origin = by_hash.get(prev_hash)
                guess = (origin + 1) if origin is not None else (1 if prev_hash == GENESIS_HASH else None)
                # the hash covers the sequence number: find the one it was written with (neighbours move too)
                candidates = [guess] if guess is not None else []
                candidates += range(1, len(rows) + 1) if len(rows) <= 100_000 else []
                written_as = next((c for c in candidates if c != seq and self._row_hash(row, c) == stored_hash),
                                  None)
                if written_as is not None:
                    return AuditVerification(False, checked, seq, "reordered",
                                             f"row {seq} was written as row {written_as} (rows were reordered)")
                return AuditVerification(False, checked, seq, "edited",
                                         f"row {seq} was edited after it was written (its hash does not match)")
            if prev_hash != prev:
                if by_hash is None:
                    by_hash = {r[8]: int(r[0]) for r in rows}
                if prev_hash in by_hash:
                    return AuditVerification(False, checked, seq, "reordered",
                                             f"row {seq} follows row {by_hash[prev_hash]} in the chain but sits "
                                             f"after row {seq - 1} (rows were reordered)")
                return AuditVerification(False, checked, seq - 1 if seq > 1 else seq, "edited",
                                         f"row {seq} does not follow row {seq - 1}: row {seq - 1} was rewritten "
                                         "(hash recomputed) or rows before it were replaced")
            prev, expected, checked = stored_hash, expected + 1, checked + 1
        anchors, problem = self._anchors(expected_head)
        if problem is not None:
            return problem
        if anchors:
            seq, _digest, source = max(anchors)
            if seq > checked:
                what = "the table was wiped" if checked == 0 else f"the chain now ends at row {checked}"
                return AuditVerification(False, checked, checked + 1, "truncated",
                                         f"rows were cut off the end: {source} saw row {seq}, but {what}")
        for seq, digest, source in anchors:
            if seq > 0 and rows[seq - 1][8] != digest:
                moved = next((int(r[0]) for r in rows if r[8] == digest), None)
                if moved is not None:
                    return AuditVerification(False, checked, seq, "reordered",
                                             f"{source} saw row {seq} that now sits at row {moved} "
                                             "(rows were reordered)")
                return AuditVerification(False, checked, seq, "edited",
                                         f"row {seq} differs from what {source} saw (rewritten after the fact)")
        head_seq, head_hash = self.head()
        if head_seq < checked:
            return AuditVerification(False, checked, head_seq + 1, "inserted",
                                     f"rows after {head_seq} were added outside the audit logger")
        if head_seq > checked or (head_seq == checked and head_hash != prev):
            return AuditVerification(False, checked, checked + 1, "truncated",
                                     f"rows after {checked} were deleted (the log recorded {head_seq} rows)")
        return AuditVerification(True, checked, message=f"audit chain intact ({checked} rows)")

    def _anchors(self, expected_head: tuple[int, str] | Mapping[str, Any] | None
                 ) -> tuple[list[tuple[int, str, str]], AuditVerification | None]:
        """(seq, hash, where it came from) of every outside anchor, or a ``bad_checkpoint`` verdict."""
        anchors: list[tuple[int, str, str]] = []
        if isinstance(self.witness, FileWitness):
            for line, checkpoint in enumerate(self.witness.read(), 1):
                if checkpoint is None or not verify_checkpoint(checkpoint, self._key):
                    why = "is not signed with the audit key" if checkpoint is not None else "is not a checkpoint"
                    return [], AuditVerification(False, 0, None, "bad_checkpoint",
                                                 f"line {line} of the witness {self.witness.path} {why} "
                                                 "(forged or damaged)")
                anchors.append((int(checkpoint["seq"]), str(checkpoint["hash"]), "the witness"))
        if isinstance(expected_head, Mapping):
            if not verify_checkpoint(expected_head, self._key):
                return [], AuditVerification(False, 0, None, "bad_checkpoint",
                                             "the expected head is not a checkpoint signed with the audit key")
            anchors.append((int(expected_head["seq"]), str(expected_head["hash"]), "the saved head"))
        elif expected_head is not None:
            anchors.append((int(expected_head[0]), str(expected_head[1]), "the saved head"))
        return anchors, None


# ----------------------------------------------------------------------------------------------- run events

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("kaizen_principal", default=None)


def current_principal() -> str | None:
    """The principal set by the innermost ``acting_as`` block in this context, if any."""
    return _principal.get()


@contextlib.contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """Attribute audit records made inside the block (agent runs, tool calls) to ``user``.

    Network channels wrap request handling in it after authenticating the caller.
    """
    principal = getattr(user, "principal", user)
    token = _principal.set(str(principal) if principal else None)
    try:
        yield
    finally:
        _principal.reset(token)


def attach_to_events(logger: AuditLogger, *, principal: str = "local") -> Callable[[], None]:
    """Record every finished agent run and every tool call from the event stream; returns a remover.

    Runs become ``execute agent/<id>`` and tool calls ``call tool/<name>``, attributed to the ``acting_as``
    principal or ``principal``. Tool arguments and outputs are not recorded (only their outcome).
    """
    from kaizen_lab.events import RunFinished, ToolCalled, add_listener

    def listener(event: Any) -> None:
        user = _principal.get() or principal
        if isinstance(event, RunFinished):
            result = {"ok": "success", "error": "failure"}.get(event.status, event.status)
            logger.log_operation(user, "execute", f"agent/{event.agent_id}", result,
                                 {"run_id": event.run_id, "duration_ms": round(event.duration_ms, 3),
                                  "error_type": event.error_type})
        elif isinstance(event, ToolCalled):
            logger.log_operation(user, "call", f"tool/{event.tool}", "failure" if event.error else "success",
                                 {"run_id": event.run_id, "source": event.source,
                                  "duration_ms": round(event.duration_ms, 3), "error": event.error})

    return add_listener(listener)
