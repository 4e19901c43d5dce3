"""DataFlow persistence: memory survives a restart, records per run, crash-safe and lossless concurrent writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import ConfigError
from kaizen_lab.integrations.dataflow import DataFlowStore, normalize_url
from kaizen_lab.models import FunctionModel

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def _python(code: str, cwd: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def remembering_model(messages, info):
    """Answers with everything the user said earlier in the conversation (so history is visible)."""
    said = [m.content for m in messages if m.role == "user"]
    return {"answer": " | ".join(said)}


def test_memory_survives_a_process_restart_in_the_default_store(tmp_path: Path) -> None:
    first = _python("""
        from kaizen_lab.agents import Agent
        agent = Agent("barista", "question -> answer", model="test", memory=True)
        store = agent.enable_dataflow_persistence()
        agent.execute(question="Remember: I prefer green tea", session="s1")
        print(store.url)
    """, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # the default store lives under the working directory's .kaizen/, never in the home directory
    assert first.stdout.strip() == f"sqlite:///{tmp_path / '.kaizen' / 'dataflow.db'}"
    assert not (Path(os.environ["HOME"]) / ".kaizen").exists()
    assert not (tmp_path / "migrations").exists()

    second = _python("""
        from kaizen_lab.agents import Agent
        from kaizen_lab.models import FunctionModel
        agent = Agent("barista", "question -> answer", memory=True,
                      model=FunctionModel(lambda m, i: {"answer": " | ".join(x.content for x in m if x.role == "user")}))
        store = agent.enable_dataflow_persistence()
        print("HISTORY", [(m.role, m.content) for m in agent.history("s1")])
        print("ANSWER", agent.execute(question="What do I like?", session="s1").answer)
        print("OTHER", agent.history("s2"))
        print("RECORDS", store.count_executions("barista"))
    """, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in second.stdout.splitlines() if " " in line)
    assert "I prefer green tea" in out["HISTORY"]
    assert "'assistant'" in out["HISTORY"]
    assert "I prefer green tea" in out["ANSWER"] and "What do I like?" in out["ANSWER"]
    assert out["OTHER"] == "[]"
    assert out["RECORDS"] == "2"


def test_execution_record_per_run_with_outputs_and_usage(tmp_path: Path) -> None:
    agent = Agent("recorder", "question -> answer", model=FunctionModel(remembering_model), memory=True)
    store = agent.enable_dataflow_persistence(str(tmp_path / "state.db"))
    try:
        results = [agent.execute(question=f"q{i}", session="s") for i in range(3)]
        records = {r["id"]: r for r in store.executions("recorder")}
        assert set(records) == {r.run_id for r in results}
        last = records[results[-1].run_id]
        assert last["inputs"] == {"question": "q2"}
        assert last["outputs"] == {"answer": results[-1].answer}
        assert last["status"] == "ok"
        assert last["performance_data"]["total_tokens"] == results[-1].metadata.input_tokens + \
            results[-1].metadata.output_tokens > 0
        metrics = store.update_performance_metrics("recorder")
        assert metrics["runs"] == 3 and metrics["errors"] == 0
        assert store.get_state("recorder")["performance_metrics"]["runs"] == 3
    finally:
        store.close()


def test_failed_run_is_recorded_with_its_error(tmp_path: Path) -> None:
    def broken(messages, info):
        raise RuntimeError("upstream down")

    agent = Agent("fails", "question -> answer", model=FunctionModel(broken), max_retries=0)
    store = agent.enable_dataflow_persistence(str(tmp_path / "state.db"))
    try:
        with pytest.raises(Exception) as info:
            agent.execute(question="x")
        (record,) = store.executions("fails")
        assert record["status"] == "error"
        assert record["outputs"] is None
        assert "upstream down" in record["error"]
        assert record["performance_data"]["error_type"] == type(info.value).__name__ == "ModelError"
    finally:
        store.close()


def test_postgres_store_keeps_memory_across_store_instances(fresh_postgres_url: str) -> None:
    agent = Agent("pg_agent", "question -> answer", model=FunctionModel(remembering_model), memory=True)
    store = agent.enable_dataflow_persistence(fresh_postgres_url)
    assert store.backend == "postgresql"
    agent.execute(question="My name is Ada", session="s1")
    store.close()

    reopened = DataFlowStore(fresh_postgres_url)
    try:
        assert [t["content"] for t in reopened.load("pg_agent", "s1")][0].endswith("My name is Ada")
        assert reopened.count_executions("pg_agent") == 1
        assert reopened.ping()[0]
        assert reopened.schema_status() == (True, "tables ['agent_states', 'execution_records'] have every "
                                                  "declared column")
    finally:
        reopened.close()


_WRITER = """
import sys
from kaizen_lab.integrations.dataflow import DataFlowStore
url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = DataFlowStore(url)
print("ready", flush=True)
for i in range(n):
    store.append("shared", "s", [{"role": "user", "content": f"{tag}-u{i}"},
                                 {"role": "assistant", "content": f"{tag}-a{i}"}])
    print(i, flush=True)
store.close()
"""


def test_concurrent_writers_lose_nothing_and_a_killed_writer_leaves_whole_turns(tmp_path: Path) -> None:
    url = str(tmp_path / "shared.db")
    n = 15
    victim = subprocess.Popen([sys.executable, "-c", _WRITER, url, "victim", "10000"], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    store = DataFlowStore(url)
    try:
        assert victim.stdout.readline().strip() == "ready"
        confirmed = 0

        def count_confirmations() -> None:
            nonlocal confirmed
            for line in victim.stdout:
                if line.strip().isdigit():
                    confirmed = int(line) + 1

        reader = threading.Thread(target=count_confirmations, daemon=True)
        reader.start()
        # this process writes from several threads while the other process writes too
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: store.append("shared", "s", [{"role": "user", "content": f"t-u{i}"},
                                                                 {"role": "assistant", "content": f"t-a{i}"}]),
                          range(n)))
        deadline = time.monotonic() + 60
        while confirmed < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)  # mid-stream: no chance to finish a write or close the database
        victim.wait(10)
        reader.join(5)
        turns = [t["content"] for t in store.load("shared", "s")]
    finally:
        store.close()
        if victim.poll() is None:
            victim.kill()
    assert sorted(t for t in turns if t.startswith("t-")) == sorted(f"t-{r}{i}" for i in range(n) for r in "ua")
    # every write the killed process saw acknowledged is there, whole (user + assistant) and in order
    victim_turns = [t for t in turns if t.startswith("victim-")]
    assert len(victim_turns) >= 2 * confirmed >= 6
    assert victim_turns == [f"victim-{r}{i}" for i in range(len(victim_turns) // 2) for r in ("u", "a")]
    for user, assistant in zip(turns[::2], turns[1::2], strict=True):
        assert user.replace("-u", "-a") == assistant


def test_urls_are_normalised_to_absolute_sqlite_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_url("rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"
    assert normalize_url("sqlite:///rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"
    assert normalize_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert normalize_url("postgres://u:p@h/db") == "postgresql://u:p@h/db"
    with pytest.raises(ConfigError, match="unsupported store URL scheme 'mysql'"):
        normalize_url("mysql://u@h/db")


def test_unreachable_postgres_is_a_config_error_naming_the_fix() -> None:
    from tests.fixtures.services import free_port

    with pytest.raises(ConfigError, match=r"can't open the DataFlow store at postgresql://u:\[REDACTED\]@127.0.0.1"):
        DataFlowStore(f"postgresql://u:secret@127.0.0.1:{free_port()}/db")


def test_independent_postgres_clients_writing_one_agent_lose_nothing(fresh_postgres_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # three stores = three connection pools and event loops, as three API processes would have
    stores = [DataFlowStore(fresh_postgres_url) for _ in range(3)]
    try:
        jobs = [(s, f"c{k}-{i}") for k, s in enumerate(stores) for i in range(12)]
        with ThreadPoolExecutor(9) as pool:
            list(pool.map(lambda job: job[0].append("busy", "s", [{"role": "user", "content": f"{job[1]}-u"},
                                                                  {"role": "assistant", "content": f"{job[1]}-a"}]),
                          jobs))
        turns = [t["content"] for t in stores[0].load("busy", "s")]
        assert sorted(turns) == sorted(f"{tag}-{r}" for _, tag in jobs for r in ("u", "a"))
        assert all(u[:-2] == a[:-2] for u, a in zip(turns[::2], turns[1::2], strict=True))
        assert stores[1].get_state("busy")["version"] == len(jobs)
    finally:
        for store in stores:
            store.close()


def test_encryption_at_rest_when_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.config import load_config
    from kaizen_lab.security import generate_key

    monkeypatch.setenv("KAIZEN_ENCRYPTION_KEY", generate_key())
    config = load_config({"security": {"encryption_enabled": True}})
    agent = Agent("vault", "question -> answer", model=FunctionModel(remembering_model), memory=True, config=config)
    db = tmp_path / "vault.db"
    store = agent.enable_dataflow_persistence(str(db))
    try:
        assert store.encryptor is not None
        agent.execute(question="my PIN is 4921", session="s1")
        assert "4921" in agent.history("s1")[0].content
        assert store.executions("vault")[0]["inputs"] == {"question": "my PIN is 4921"}
        store.save_state("vault", {"note": "top secret 4921"})
        assert store.get_state("vault")["state_data"] == {"note": "top secret 4921"}
    finally:
        store.close()
    assert b"4921" not in db.read_bytes()
    plain = DataFlowStore(str(db))  # no key: the data can't be read, and says why
    try:
        with pytest.raises(ConfigError, match="holds encrypted data"):
            plain.load("vault", "s1")
    finally:
        plain.close()


def test_secrets_in_inputs_are_redacted_in_execution_records(tmp_path: Path) -> None:
    agent = Agent("leaky", "question -> answer", model=FunctionModel(lambda m, i: {"answer": "noted"}))
    store = agent.enable_dataflow_persistence(str(tmp_path / "leaky.db"))
    try:
        agent.execute(question="use key sk-proj-abcdefghijklmnopqrstuvwxyz123456 please")
        (record,) = store.executions("leaky")
        assert "sk-proj" not in record["inputs"]["question"]
        assert "[REDACTED]" in record["inputs"]["question"]
    finally:
        store.close()
