"""``RunStore``: WAL SQLite, batched concurrent writes with nothing lost, retention, migrations, defaults."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kaizen_lab.config import load_config
from kaizen_lab.errors import ConfigError
from kaizen_lab.store import SCHEMA_VERSION, RunStore, StoreError
from kaizen_lab.store._schema import MIGRATIONS
from kaizen_lab.store.runs import RUN_COLUMNS, _row


def _run(run_id: str, start: float, parent: str | None = None, trace: str | None = None) -> dict:
    return {"run_id": run_id, "trace_id": trace or run_id, "parent_run_id": parent, "agent_id": "qa",
            "kind": "agent", "status": "ok", "start": start, "end": start + 0.01, "duration_ms": 10.0,
            "inputs": {"q": run_id}}


def test_file_store_uses_wal_and_round_trips(tmp_path: Path) -> None:
    with RunStore(tmp_path / "t.db", max_runs=None) as store:
        store.write(runs=[_run("r1", 1.0)],
                    spans=[{"span_id": "s1", "trace_id": "r1", "run_id": "r1", "parent_id": None, "kind": "run",
                            "name": "qa", "start": 1.0, "end": 1.01, "status": "ok", "attributes": {"a": 1}}],
                    events=[{"run_id": "r1", "trace_id": "r1", "seq": 0, "kind": "run_started", "ts": 1.0,
                             "data": {"agent_id": "qa"}}])
        store.flush()
        assert store.run("r1")["inputs"] == '{"q": "r1"}'
        assert store.spans(run_id="r1")[0]["attributes"] == '{"a": 1}'
        assert store.events(run_id="r1")[0]["kind"] == "run_started"
    mode = sqlite3.connect(tmp_path / "t.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_run_dropped_by_retention_leaves_no_payload_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with RunStore(path, max_runs=1) as store:
        old = _run("old", 1.0)
        old["inputs"] = {"q": "forget-me-7f3a"}
        store.write(runs=[old])
        store.flush()
        store.write(runs=[_run("new", 2.0)])  # over the limit: "old" is deleted
        store.flush()
        assert store.run("old") is None
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert b"forget-me-7f3a" not in path.read_bytes()


def test_ten_thousand_runs_from_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    stores = [RunStore(path, max_runs=None, batch_size=500), RunStore(path, max_runs=None, batch_size=500)]
    threads_per_store, per_thread = 5, 1000
    barrier = threading.Barrier(threads_per_store * len(stores))

    def writer(store: RunStore, prefix: str) -> None:
        barrier.wait()
        for i in range(per_thread):
            run_id = f"{prefix}-{i}"
            store.write(runs=[_run(run_id, time.time())],
                        spans=[{"span_id": f"span-{run_id}", "trace_id": run_id, "run_id": run_id, "kind": "run",
                                "name": "qa", "start": 0.0, "status": "ok"}])

    threads = [threading.Thread(target=writer, args=(store, f"s{si}t{ti}"))
               for si, store in enumerate(stores) for ti in range(threads_per_store)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.flush(timeout=120)
    total = threads_per_store * len(stores) * per_thread
    assert total == 10_000
    assert stores[0].count_runs() == total
    assert len(stores[1].spans(kind="run")) == total
    ids = {r["run_id"] for r in stores[1].runs()}
    assert ids == {f"s{si}t{ti}-{i}" for si in range(2) for ti in range(threads_per_store) for i in range(per_thread)}
    for store in stores:
        store.close()


def test_retention_keeps_the_newest_root_runs_with_their_sub_runs() -> None:
    store = RunStore(":memory:", max_runs=3)
    for i in range(5):
        root = f"root{i}"
        store.write(runs=[_run(root, float(i)), _run(f"{root}-child", i + 0.5, parent=root, trace=root)],
                    spans=[{"span_id": f"sp{i}", "trace_id": root, "run_id": root, "kind": "run", "name": "x",
                            "start": float(i), "status": "ok"}])
        store.flush()
    roots = [r["run_id"] for r in store.runs(roots_only=True)]
    assert roots == ["root4", "root3", "root2"]
    assert store.count_runs() == 6  # each kept root keeps its child
    assert {s["trace_id"] for s in store.spans()} == {"root2", "root3", "root4"}


def test_retention_drops_the_events_of_every_run_of_a_dropped_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with RunStore(path, max_runs=2) as store:
        for i in range(4):
            root, child = f"root{i}", f"root{i}-child"
            runs = [_run(root, float(i)), _run(child, i + 0.5, parent=root, trace=root)]
            # the tracer's rows (one events row per run) and ``write()``'s event rows, for the root and its sub-run
            store.write_rows([_row(r, RUN_COLUMNS) for r in runs],
                             run_events=[(r["run_id"], root, f'[{{"run": "{r["run_id"]}"}}]') for r in runs])
            store.write(events=[{"run_id": r["run_id"], "trace_id": root, "seq": 0, "kind": "run_started",
                                 "ts": float(i), "data": {"run": r["run_id"]}} for r in runs])
            store.flush()
    kept = {f"root{i}{s}" for i in (2, 3) for s in ("", "-child")}
    conn = sqlite3.connect(path)
    for sql in ("SELECT run_id FROM runs", "SELECT run_id FROM runs WHERE events IS NOT NULL",
                "SELECT run_id FROM events"):
        assert {r[0] for r in conn.execute(sql)} == kept, sql
    conn.close()


def test_retention_by_age() -> None:
    store = RunStore(":memory:", max_runs=None, max_age_s=60)
    now = time.time()
    store.write(runs=[_run("old", now - 3600), _run("new", now)])
    store.flush()
    assert [r["run_id"] for r in store.runs()] == ["new"]


def test_bad_retention_settings_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="max_runs must be at least 1"):
        RunStore(":memory:", max_runs=0)
    with pytest.raises(ConfigError, match="max_age_s must be positive"):
        RunStore(":memory:", max_age_s=-1)


def test_version_one_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                 "applied_at REAL NOT NULL)")
    for sql in MIGRATIONS[0][2]:
        conn.execute(sql)
    conn.execute("INSERT INTO schema_version VALUES (1, 'v1', 0)")
    conn.execute("INSERT INTO runs (run_id, parent_run_id, agent_id, status, start_ts) VALUES "
                 "('p', NULL, 'pattern:debate', 'ok', 1), ('c', 'p', 'd1', 'ok', 2), ('g', 'c', 'd2', 'ok', 3)")
    conn.execute("INSERT INTO spans (span_id, run_id, kind, name, start_ts, status) VALUES "
                 "('s', 'g', 'run', 'd2', 3, 'ok')")
    conn.execute("INSERT INTO events (run_id, seq, kind, ts) VALUES ('c', 0, 'run_started', 2)")
    conn.commit()
    conn.close()
    with RunStore(path, max_runs=None) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        assert {r["run_id"]: r["trace_id"] for r in store.runs()} == {"p": "p", "c": "p", "g": "p"}
        assert store.spans(trace_id="p")[0]["span_id"] == "s"
        assert store.events(trace_id="p")[0]["run_id"] == "c"
        assert store.runs(agent_id="d1")[0]["model_calls"] == 0
        store.write(runs=[_run("new", 4.0)])
        store.flush()
        assert store.count_runs() == 4


def test_version_three_database_keeps_its_runs_events(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                 "applied_at REAL NOT NULL)")
    for version, _, statements in MIGRATIONS[:3]:
        for sql in statements:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (?, 'old', 0)", (version,))
    conn.execute("INSERT INTO runs (run_id, trace_id, agent_id, status, start_ts) VALUES ('a', 'a', 'qa', 'ok', 1), "
                 "('b', 'b', 'qa', 'ok', 2)")
    conn.execute("""INSERT INTO run_events VALUES ('a', 'a', '[{"kind": "run_started"}]')""")
    conn.commit()
    conn.close()
    with RunStore(path, max_runs=None) as store:
        assert store.schema_version == 4
        assert store.run_events(["a", "b"]) == {"a": '[{"kind": "run_started"}]'}
        assert [r["run_id"] for r in store.runs()] == ["b", "a"]
        assert "events" not in store.run("a")
        # a run stored again without its events keeps them; with new ones, they replace them
        store.write(runs=[{**_run("a", 1.0), "status": "error"}])
        store.write_rows([], run_events=[("b", "b", "[]")])
        store.flush()
        assert store.run("a")["status"] == "error"
        assert store.run_events(["a", "b"]) == {"a": '[{"kind": "run_started"}]', "b": "[]"}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    RunStore(path, max_runs=None).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="schema version 99.*upgrade kaizen-lab"):
        RunStore(path)


def test_default_path_is_under_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with RunStore() as store:
        assert Path(store.path) == tmp_path / ".kaizen" / "traces.db"
        assert store.max_runs == 1000
    memory = RunStore(config=load_config({"tracing": {"in_memory": True, "retention_runs": 5}}))
    assert memory.in_memory and memory.max_runs == 5


def test_closed_store_refuses_writes() -> None:
    store = RunStore(":memory:")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.write(runs=[_run("r", 0.0)])


def test_bad_record_is_reported_by_flush_and_spares_its_batch_mates() -> None:
    store = RunStore(":memory:", max_runs=None)
    store.write(runs=[_run("before", 1.0)])
    store.write(runs=[{"run_id": "bad", "status": "ok", "start": 0.0}])  # agent_id is NOT NULL
    store.write(runs=[_run("after", 2.0)])
    with pytest.raises(StoreError, match="NOT NULL"):
        store.flush()
    assert {r["run_id"] for r in store.runs()} == {"before", "after"}
    store.flush()  # the failure was reported once


def test_none_is_stored_as_null_and_a_none_adapter_the_program_registered_is_kept(tmp_path: Path) -> None:
    key = (type(None), sqlite3.PrepareProtocol)
    saved = sqlite3.adapters.pop(key, None)
    try:
        with RunStore(tmp_path / "t.db", max_runs=None) as store:
            store.write(runs=[_run("r1", 1.0)])
            store.flush()
        row = sqlite3.connect(tmp_path / "t.db").execute(
            "SELECT typeof(parent_run_id), typeof(cost), typeof(error) FROM runs").fetchone()
        assert row == ("null", "null", "null")

        def mine(value: None) -> str:
            return "none"

        sqlite3.register_adapter(type(None), mine)
        RunStore(":memory:", max_runs=None).close()
        assert sqlite3.adapters[key] is mine
    finally:
        sqlite3.adapters.pop(key, None)
        if saved is not None:
            sqlite3.adapters[key] = saved
