"""The run store's schema, as ordered migrations. Version N is reached by applying 1..N in order.

Never edit a released migration: add the next one. Each runs in one transaction together with the
``schema_version`` row that records it, so a crash leaves the database at the previous version.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "runs, spans and events", (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, parent_run_id TEXT, agent_id TEXT NOT NULL, status TEXT NOT NULL,
            start_ts REAL NOT NULL, end_ts REAL, duration_ms REAL, model TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, cost REAL,
            error TEXT, inputs TEXT, outputs TEXT)""",
        """CREATE TABLE spans (
            span_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, parent_id TEXT, kind TEXT NOT NULL,
            name TEXT NOT NULL, start_ts REAL NOT NULL, end_ts REAL, duration_ms REAL, status TEXT NOT NULL,
            error TEXT, inputs TEXT, outputs TEXT, attributes TEXT) WITHOUT ROWID""",
        # one b-tree per table keeps a traced run's ~20 rows cheap to insert
        """CREATE TABLE events (
            run_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts REAL NOT NULL, data TEXT,
            PRIMARY KEY (run_id, seq)) WITHOUT ROWID""",
        "CREATE INDEX spans_run ON spans(run_id)",
    )),
    (2, "trace ids, run kinds and usage counters; indexes for the monitor", (
        "ALTER TABLE runs ADD COLUMN trace_id TEXT",
        "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent'",
        "ALTER TABLE runs ADD COLUMN model_calls INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN error_type TEXT",
        "ALTER TABLE runs ADD COLUMN attributes TEXT",
        # the root of each existing run tree becomes its trace id
        """WITH RECURSIVE tree(run_id, root) AS (
               SELECT run_id, run_id FROM runs WHERE parent_run_id IS NULL
               UNION ALL SELECT r.run_id, t.root FROM runs r JOIN tree t ON r.parent_run_id = t.run_id)
           UPDATE runs SET trace_id = COALESCE((SELECT root FROM tree WHERE tree.run_id = runs.run_id), run_id)""",
        "ALTER TABLE spans ADD COLUMN trace_id TEXT",
        "UPDATE spans SET trace_id = (SELECT trace_id FROM runs WHERE runs.run_id = spans.run_id)",
        "ALTER TABLE events ADD COLUMN trace_id TEXT",
        "UPDATE events SET trace_id = (SELECT trace_id FROM runs WHERE runs.run_id = events.run_id)",
        "CREATE INDEX runs_agent ON runs(agent_id, start_ts)",
        "CREATE INDEX runs_trace ON runs(trace_id)",
        "CREATE INDEX runs_roots ON runs(start_ts) WHERE parent_run_id IS NULL",
        # spans are read per trace (a run's spans are found through its trace); events through their run ids
        "DROP INDEX spans_run",
        "CREATE INDEX spans_trace ON spans(trace_id)",
    )),
    (3, "indexes for every read (sub-runs by parent, runs by start time); one events row per traced run", (
        # sub-runs of a run (subtree, %trace, the monitor); roots are left out, so the index stays small
        "CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL",
        # the newest runs of any kind, a page at a time
        "CREATE INDEX runs_start ON runs(start_ts)",
        # all the events of one traced run in one row (spans are built from them when read)
        # (a rowid table: its rows are kilobytes, too large for a WITHOUT ROWID b-tree to store cheaply)
        """CREATE TABLE run_events (
            run_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, data TEXT NOT NULL)""",
    )),
    (4, "a traced run's events in its run row (one row and one b-tree per stored run, not two)", (
        "ALTER TABLE runs ADD COLUMN events TEXT",
        "UPDATE runs SET events = (SELECT data FROM run_events e WHERE e.run_id = runs.run_id) "
        "WHERE run_id IN (SELECT run_id FROM run_events)",
        "DROP TABLE run_events",
    )),
)

SCHEMA_VERSION = MIGRATIONS[-1][0]
