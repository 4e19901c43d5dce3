"""The hash-chained audit trail on SQLite and on a real PostgreSQL: appends, concurrency, tamper detection.

Tampering is done the way an intruder would: straight through sqlite3/psycopg2 on the database, after dropping
the append-only triggers.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.errors import ConfigError
from kaizen_lab.security import AuditLogger, AuthResult
from kaizen_lab.security.audit import GENESIS_HASH, canonical_json


class Database:
    """Direct access to the audit tables, bypassing AuditLogger."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target

    def execute(self, *statements: str) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.target, isolation_level=None)
            try:
                for statement in statements:
                    conn.execute(statement)
            finally:
                conn.close()
        else:
            import psycopg2

            conn = psycopg2.connect(self.target)
            try:
                with conn, conn.cursor() as cur:
                    for statement in statements:
                        cur.execute(statement)
            finally:
                conn.close()

    def drop_guards(self) -> None:
        if self.kind == "sqlite":
            self.execute("DROP TRIGGER kaizen_audit_no_update", "DROP TRIGGER kaizen_audit_no_delete")
        else:
            self.execute("DROP TRIGGER kaizen_audit_no_change ON kaizen_audit")

    def tamper(self, *statements: str) -> None:
        self.drop_guards()
        self.execute(*statements)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Callable[..., AuditLogger], Database]]:
    if request.param == "sqlite":
        target = str(tmp_path / "audit" / "audit.db")
    else:
        target = request.getfixturevalue("fresh_postgres_url")
    loggers: list[AuditLogger] = []

    def make(**kwargs: Any) -> AuditLogger:
        logger = AuditLogger(target, **kwargs)
        loggers.append(logger)
        return logger

    yield make, Database(request.param, target)
    for logger in loggers:
        logger.close()


def _fill(logger: AuditLogger, n: int = 5) -> None:
    for i in range(1, n + 1):
        logger.log_operation(f"user{i}", "execute", f"agent/a{i}", "allowed" if i % 2 else "denied", {"i": i})


def test_records_chain_and_verify(store: Any) -> None:
    make, _db = store
    logger = make()
    first = logger.log_operation(AuthResult(ok=True, principal="alice"), "execute", "agent/qa", True, {"n": 1})
    second = logger.log_operation("bob", "call", "tool/search", "denied")
    assert (first.seq, first.prev_hash, first.user_id, first.result) == (1, GENESIS_HASH, "alice", "success")
    assert second.prev_hash == first.hash and second.seq == 2
    expected = hashlib.sha256(canonical_json({
        "seq": 1, "ts": first.ts, "user": "alice", "operation": "execute", "resource": "agent/qa",
        "result": "success", "details": '{"n":1}', "prev": GENESIS_HASH}).encode()).hexdigest()
    assert first.hash == expected
    assert [r.to_dict() for r in logger.records()] == [first.to_dict(), second.to_dict()]
    report = logger.verify()
    assert report.ok and report.checked == 2 and report.problem is None


def test_chain_continues_across_reopen(store: Any) -> None:
    make, _db = store
    logger = make()
    _fill(logger, 3)
    logger.close()
    again = make()
    record = again.log_operation("x", "read", "trace/1", "success")
    assert record.seq == 4 and again.verify().ok and len(again) == 4


def test_append_only_triggers_refuse_changes(store: Any) -> None:
    make, db = store
    _fill(make(), 2)
    with pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE kaizen_audit SET result = 'allowed' WHERE seq = 2")
    with pytest.raises(Exception, match="append-only"):
        db.execute("DELETE FROM kaizen_audit WHERE seq = 1")


def test_edited_row_is_named(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    db.tamper("UPDATE kaizen_audit SET result = 'allowed' WHERE seq = 4")
    report = logger.verify()
    assert not report.ok and (report.problem, report.first_bad_seq, report.checked) == ("edited", 4, 3)
    assert "row 4 was edited" in report.message


def test_edited_details_are_detected(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    db.tamper("""UPDATE kaizen_audit SET details = '{"i":99}' WHERE seq = 2""")
    assert (logger.verify().problem, logger.verify().first_bad_seq) == ("edited", 2)


def test_edit_with_recomputed_hash_is_caught_at_the_next_row(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    row = next(r for r in logger.records() if r.seq == 2)
    forged = hashlib.sha256(canonical_json({
        "seq": 2, "ts": row.ts, "user": "intruder", "operation": row.operation, "resource": row.resource,
        "result": row.result, "details": row.details, "prev": row.prev_hash}).encode()).hexdigest()
    db.tamper(f"UPDATE kaizen_audit SET user_id = 'intruder', hash = '{forged}' WHERE seq = 2")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "edited", 2)


def test_deleted_row_is_named(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    db.tamper("DELETE FROM kaizen_audit WHERE seq = 3")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "deleted", 3)
    assert "row 3 is missing" in report.message


def test_deleted_last_rows_are_detected(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    db.tamper("DELETE FROM kaizen_audit WHERE seq >= 4")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", 4)


def test_reordered_rows_are_named(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger)
    db.tamper("UPDATE kaizen_audit SET seq = -1 WHERE seq = 2",
              "UPDATE kaizen_audit SET seq = 2 WHERE seq = 4",
              "UPDATE kaizen_audit SET seq = 4 WHERE seq = -1")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "reordered", 2)
    assert "written as row 4" in report.message


def test_rows_inserted_behind_the_loggers_back(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger, 2)
    last = logger.records()[-1]
    ts = last.ts
    digest = hashlib.sha256(canonical_json({
        "seq": 3, "ts": ts, "user": "x", "operation": "o", "resource": "r", "result": "success", "details": "{}",
        "prev": last.hash}).encode()).hexdigest()
    db.execute(f"INSERT INTO kaizen_audit VALUES (3, '{ts}', 'x', 'o', 'r', 'success', '{{}}', '{last.hash}', "
               f"'{digest}')")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "inserted", 3)


def test_keyed_chain_cannot_be_reforged_without_the_key(store: Any) -> None:
    make, db = store
    logger = make(key="audit-hmac-key")
    _fill(logger, 2)
    # An intruder rewrites row 2 and recomputes a plain sha256 hash (the unkeyed scheme) and the head.
    row = logger.records()[1]
    forged = hashlib.sha256(canonical_json({
        "seq": 2, "ts": row.ts, "user": "intruder", "operation": row.operation, "resource": row.resource,
        "result": row.result, "details": row.details, "prev": row.prev_hash}).encode()).hexdigest()
    db.tamper(f"UPDATE kaizen_audit SET user_id = 'intruder', hash = '{forged}' WHERE seq = 2",
              f"UPDATE kaizen_audit_head SET hash = '{forged}'")
    assert (logger.verify().problem, logger.verify().first_bad_seq) == ("edited", 2)
    assert make(key="audit-hmac-key").verify().problem == "edited"


def test_saved_head_anchors_the_chain(store: Any) -> None:
    make, db = store
    logger = make()
    _fill(logger, 3)
    anchor = logger.head()
    assert logger.verify(expected_head=anchor).ok
    db.tamper("DELETE FROM kaizen_audit WHERE seq = 3", "UPDATE kaizen_audit_head SET seq = 2, hash = "
              "(SELECT hash FROM kaizen_audit WHERE seq = 2)")
    report = logger.verify(expected_head=anchor)
    assert (report.ok, report.problem) == (False, "truncated")  # a consistent truncation, caught by the anchor


def _witnessed(make: Callable[..., AuditLogger], tmp_path: Path, **kwargs: Any) -> AuditLogger:
    return make(witness=tmp_path / "elsewhere" / "audit.witness", **kwargs)


@pytest.mark.parametrize("key", [None, "audit-hmac-key"])
def test_tail_truncation_with_rewritten_head_is_reported(store: Any, tmp_path: Path, key: str | None) -> None:
    make, db = store
    logger = _witnessed(make, tmp_path, key=key)
    _fill(logger)
    assert logger.verify().ok
    db.tamper("DELETE FROM kaizen_audit WHERE seq >= 4",
              "UPDATE kaizen_audit_head SET seq = 3, hash = (SELECT hash FROM kaizen_audit WHERE seq = 3)")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", 4)
    assert "witness saw row 5" in report.message
    # a fresh logger over the same database and witness (e.g. an auditor's) sees it too
    assert _witnessed(make, tmp_path, key=key).verify().problem == "truncated"


def test_wiped_table_is_reported(store: Any, tmp_path: Path) -> None:
    make, db = store
    logger = _witnessed(make, tmp_path, key="audit-hmac-key")
    _fill(logger, 3)
    db.tamper("DELETE FROM kaizen_audit", f"UPDATE kaizen_audit_head SET seq = 0, hash = '{GENESIS_HASH}'")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", 1)
    assert "table was wiped" in report.message


def test_sqlite_log_has_a_witness_file_by_default(tmp_path: Path) -> None:
    with AuditLogger(tmp_path / "audit.db") as logger:
        _fill(logger, 2)
        assert (tmp_path / "audit.db.witness").is_file()
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.executescript("DROP TRIGGER kaizen_audit_no_delete; DELETE FROM kaizen_audit; "
                       f"UPDATE kaizen_audit_head SET seq = 0, hash = '{GENESIS_HASH}';")
    conn.close()
    with AuditLogger(tmp_path / "audit.db") as again:
        assert again.verify().problem == "truncated"


def test_rows_swapped_with_their_hashes_are_named_reordered_against_the_witness(store: Any, tmp_path: Path) -> None:
    make, db = store
    logger = _witnessed(make, tmp_path)
    _fill(logger, 4)
    db.tamper("UPDATE kaizen_audit SET seq = -1 WHERE seq = 3", "UPDATE kaizen_audit SET seq = 3 WHERE seq = 4",
              "UPDATE kaizen_audit SET seq = 4 WHERE seq = -1")
    report = logger.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "reordered", 3)


def test_forged_witness_checkpoint_is_refused(store: Any, tmp_path: Path) -> None:
    make, _db = store
    logger = _witnessed(make, tmp_path, key="audit-hmac-key")
    _fill(logger, 2)
    witness = tmp_path / "elsewhere" / "audit.witness"
    lines = witness.read_text().splitlines()
    forged = json.loads(lines[-1])
    forged["seq"] = 1  # an intruder "rolls back" the witness to hide a later truncation
    witness.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    report = logger.verify()
    assert (report.ok, report.problem) == (False, "bad_checkpoint")


def test_signed_checkpoint_kept_by_the_caller(store: Any, tmp_path: Path) -> None:
    make, db = store
    sink: list[dict[str, Any]] = []
    logger = make(key="audit-hmac-key", witness=sink.append)
    _fill(logger, 3)
    assert sink[-1]["seq"] == 3 and sink[-1]["sig"]
    saved = logger.checkpoint()
    assert logger.verify(expected_head=saved).ok
    db.tamper("DELETE FROM kaizen_audit WHERE seq = 3",
              "UPDATE kaizen_audit_head SET seq = 2, hash = (SELECT hash FROM kaizen_audit WHERE seq = 2)")
    assert logger.verify(expected_head=sink[-1]).problem == "truncated"
    assert logger.verify(expected_head={**saved, "seq": 2}).problem == "bad_checkpoint"


def test_concurrent_appends_lose_nothing(store: Any) -> None:
    make, _db = store
    loggers = [make(), make()]  # two connections, as two processes would have
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                loggers[n % 2].log_operation(f"t{n}", "execute", f"agent/{i}", "success", {"t": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = loggers[0].records()
    assert [r.seq for r in records] == list(range(1, 151))
    assert {(r.details_dict["t"], r.details_dict["i"]) for r in records} == {(t, i) for t in range(6) for i in range(25)}
    assert loggers[1].verify().ok


def test_details_and_resource_are_redacted(store: Any) -> None:
    make, _db = store
    logger = make()
    record = logger.log_operation("alice", "call", "tool/http?token=abcdef123456", "success",
                                  {"api_key": "sk-" + "a" * 30, "headers": {"Authorization": "Bearer abcdefghijkl"}})
    assert "abcdef123456" not in record.resource and "aaaaaaaaaa" not in record.details
    assert record.details_dict == {"api_key": "[REDACTED]", "headers": {"Authorization": "[REDACTED]"}}
    assert logger.verify().ok


def test_postgres_location_hides_the_password(fresh_postgres_url: str) -> None:
    with AuditLogger(fresh_postgres_url) as logger:
        password = fresh_postgres_url.split(":")[2].split("@")[0]
        assert password not in logger.location and "[REDACTED]" in logger.location


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    with AuditLogger(tmp_path / "a.db") as logger:
        logger.log_operation("a", "b", "c", "d")
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_in_memory_logger() -> None:
    with AuditLogger(":memory:") as logger:
        _fill(logger, 3)
        assert logger.verify().checked == 3


def test_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'mysql':// is not supported; use a file path or a postgresql:// URL"):
        AuditLogger("mysql://x/y")


def test_unsafe_table_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="letters, digits and underscores"):
        AuditLogger(tmp_path / "a.db", table="audit; DROP TABLE x")


def test_postgres_reconnects_after_the_connection_is_killed(fresh_postgres_url: str) -> None:
    import psycopg2

    with AuditLogger(fresh_postgres_url) as logger:
        _fill(logger, 2)
        admin = psycopg2.connect(fresh_postgres_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        admin.close()
        with pytest.raises(psycopg2.Error):
            logger.log_operation("a", "b", "c", "d")  # the dead connection fails once, loudly
        assert logger.log_operation("a", "b", "c", "d").seq == 3
        assert logger.verify().ok
