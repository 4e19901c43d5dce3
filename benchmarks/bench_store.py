"""Run store reads as the store grows: each read the monitor, ``%trace``, the panels and the sidebar make.

The same reads run on a store of 1,000 and of 100,000 traced runs (10% of them patterns with two sub-runs);
``store_query_growth_1k_100k`` is the largest ratio of a read's median time at 100k to its time at 1k (goal
≤ 1.5: every read is served by an index and none is made per run). ``store_growth_<read>`` gives each ratio and
``store_<read>_ms_100k`` the time at 100k. Each store is opened once and warmed by one read of each kind;
reads are timed with ``perf_counter`` (they are single-threaded), small and big interleaved.

The stores are built fast: a few real runs are traced once, then their rows are copied under new ids with
``executemany`` in one transaction per table.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_AGENTS = ("qa", "summarize", "classify", "extract", "plan")


_Rows = list[tuple[tuple[Any, ...], str]]


def _templates(tmp: Path) -> tuple[list[str], _Rows, list[_Rows]]:
    """Rows of one real agent run, and of one real pattern run with two sub-runs (run columns, events)."""
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel
    from kaizen_lab.patterns import ConsensusPattern
    from kaizen_lab.store import RunStore
    from kaizen_lab.store.runs import RUN_COLUMNS
    from kaizen_lab.tracing import Tracer

    path = tmp / "template.db"
    store = RunStore(path, max_runs=None)
    with Tracer(store) as tracer:
        single = Agent("qa", "question: str -> answer: str, confidence: float", model=TestModel())
        single.execute(question="What is the capital of France?")
        voters = [Agent(f"v{i}", "question -> answer: str, confidence: float", model=TestModel()) for i in range(2)]
        ConsensusPattern(voters).run(question="Which is larger, 3 or 5?")
        tracer.flush()
    store.close()
    conn = sqlite3.connect(path)
    names = list(RUN_COLUMNS)
    runs = conn.execute(f"SELECT {', '.join(names)} FROM runs ORDER BY start_ts").fetchall()  # noqa: S608
    events = dict(conn.execute("SELECT run_id, events FROM runs").fetchall())
    conn.close()
    pid = names.index("parent_run_id")
    root_single = next(r for r in runs if r[pid] is None and r[names.index("agent_id")] == "qa")
    pattern = [r for r in runs if r is not root_single]
    return names, [(root_single, events[root_single[0]])], [[(r, events[r[0]]) for r in pattern]]


def _build(path: Path, n: int, names: list[str], single: _Rows, pattern: list[_Rows]) -> list[str]:
    """A store of ``n`` root runs; returns the ids of a few pattern roots (to read their traces)."""
    from kaizen_lab.store import RunStore

    RunStore(path, max_runs=None).close()  # the schema
    col = {name: i for i, name in enumerate(names)}
    runs: list[tuple[Any, ...]] = []
    patterns: list[str] = []
    t0 = time.time() - n
    for i in range(n):
        ts = t0 + i
        if i % 10 == 9:  # a pattern run with its two sub-runs
            rows = pattern[0]
            root_id = f"run-{i:07d}"
            ids = {rows[0][0][0]: root_id}
            for j, (row, _) in enumerate(rows[1:], 1):
                ids[row[0]] = f"{root_id}-{j}"
            for row, data in rows:
                new = list(row)
                new[col["run_id"]] = ids[row[0]]
                new[col["trace_id"]] = root_id
                if row[col["parent_run_id"]] is not None:
                    new[col["parent_run_id"]] = ids.get(row[col["parent_run_id"]], root_id)
                new[col["start_ts"]] = ts + (row[col["start_ts"]] - rows[0][0][col["start_ts"]])
                runs.append((*new, data))
            patterns.append(root_id)
        else:
            row, data = single[0]
            run_id = f"run-{i:07d}"
            new = list(row)
            new[col["run_id"]] = new[col["trace_id"]] = run_id
            new[col["agent_id"]] = _AGENTS[i % len(_AGENTS)]
            new[col["start_ts"]] = ts
            runs.append((*new, data))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    cols = [*names, "events"]  # a traced run's events are stored in its row
    conn.executemany(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", runs)
    conn.execute("COMMIT")
    conn.close()
    return patterns[-5:]


def _reads(store: Any, pattern_ids: list[str]) -> dict[str, Callable[[], Any]]:
    from kaizen_lab.tracing import Tracer
    from kaizen_lab.tracing.monitor import TransparencyMonitor
    from kaizen_lab.tracing.tracer import trace_from_store

    def monitor() -> Any:  # a new tracer on the store: everything comes from the file
        out = TransparencyMonitor(Tracer(store)).get_agent_transparency("qa")
        return out.decision_trail[0].reason if out.decision_trail else None

    def page_after() -> Any:
        first = store.runs(limit=50)
        return store.runs(limit=50, before=first[-1]["start"])

    return {
        "runs_page": lambda: store.runs(limit=50),
        "runs_next_page": page_after,
        "runs_roots_page": lambda: store.runs(roots_only=True, limit=50),
        "agent_runs_page": lambda: store.runs(agent_id="qa", limit=100),
        "agent_ids": store.agent_ids,
        "trace_from_store": lambda: [trace_from_store(store, r) for r in pattern_ids],
        "agent_transparency": monitor,
    }


def _once(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(quick: bool = False) -> dict[str, float]:
    from kaizen_lab.store import RunStore

    load = os.getloadavg()[0]
    repeats = 5 if quick else 15
    big = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        names, single, pattern = _templates(tmp)
        small_ids = _build(tmp / "small.db", 1_000, names, single, pattern)
        big_ids = _build(tmp / "big.db", big, names, single, pattern)
        stores = [RunStore(tmp / "small.db", max_runs=None), RunStore(tmp / "big.db", max_runs=None)]
        small, large = _reads(stores[0], small_ids), _reads(stores[1], big_ids)
        figures: dict[str, float] = {}
        growth = []
        for name in small:
            small[name]()  # warm: the first read of a freshly opened file pays for its pages
            large[name]()
            t_small: list[float] = []
            t_big: list[float] = []
            for _ in range(repeats):  # interleaved, so load drift hits both sizes alike
                t_small.append(_once(small[name]))
                t_big.append(_once(large[name]))
            ratio = statistics.median(t_big) / statistics.median(t_small)
            growth.append(ratio)
            figures[f"store_growth_{name}"] = round(ratio, 3)
            figures[f"store_{name}_ms_100k"] = round(statistics.median(t_big) * 1e3, 3)
        for store in stores:
            store.close()
    figures["store_query_growth_1k_100k"] = round(max(growth), 3)
    figures["store_big_runs"] = float(big)
    figures["store_loadavg"] = round(load, 2)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
