"""Traces encrypted at rest with ``security.encryption_enabled``: no plaintext in the SQLite file or its WAL,
and the store reads its rows back decrypted."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.config import load_config
from kaizen_lab.errors import ConfigError
from kaizen_lab.security import DecryptionError, generate_key
from kaizen_lab.store import RunStore
from kaizen_lab.tracing import Tracer

PIN_INPUT = "my PIN is 4921"


def _config(tmp_path: Path, encrypted: bool):
    return load_config({"security": {"encryption_enabled": encrypted},
                        "tracing": {"store_path": str(tmp_path / "traces.db")}}, env={})


def _files(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("traces.db*"))


def _traced_run(tmp_path: Path, encrypted: bool) -> tuple[Tracer, str]:
    config = _config(tmp_path, encrypted)
    tracer = Tracer(config=config).start()
    agent = Agent("pin-keeper", "question -> answer", model="test")
    result = agent.execute(question=PIN_INPUT)
    tracer.flush()
    return tracer, result.metadata.run_id


def test_plain_store_shows_the_input_so_the_check_below_can_fail(tmp_path: Path) -> None:
    tracer, _run = _traced_run(tmp_path, encrypted=False)
    try:
        assert PIN_INPUT.encode() in _files(tmp_path)
    finally:
        tracer.close()


def test_encrypted_store_holds_no_plaintext_in_the_file_or_its_wal(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_ENCRYPTION_KEY", generate_key())
    tracer, run_id = _traced_run(tmp_path, encrypted=True)
    try:
        assert (tmp_path / "traces.db-wal").exists()  # read while the WAL still holds the writes
        raw = _files(tmp_path)
        assert PIN_INPUT.encode() not in raw and b"PIN is" not in raw and b"is 4921" not in raw
        assert b"pin-keeper" in raw  # ids and agent ids stay queryable
        store = tracer.store
        run = store.run(run_id)
        assert run is not None and PIN_INPUT in run["inputs"]
        trace = tracer.get(run_id)
        assert trace.runs[0].agent_id == "pin-keeper"
    finally:
        tracer.close()
    reopened = RunStore(tmp_path / "traces.db", config=_config(tmp_path, True))
    try:
        assert PIN_INPUT in reopened.run(run_id)["inputs"]
        assert PIN_INPUT in reopened.run_events([run_id])[run_id]  # the run's events, stored in its row
    finally:
        reopened.close()


def test_reading_with_another_key_is_a_decryption_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_ENCRYPTION_KEY", generate_key())
    tracer, run_id = _traced_run(tmp_path, encrypted=True)
    tracer.close()
    monkeypatch.setenv("KAIZEN_ENCRYPTION_KEY", generate_key())
    store = RunStore(tmp_path / "traces.db", config=_config(tmp_path, True))
    try:
        with pytest.raises(DecryptionError, match="KAIZEN_ENCRYPTION_KEY"):
            store.run(run_id)
    finally:
        store.close()


def test_encryption_without_a_key_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIZEN_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigError, match="no key was found"):
        RunStore(tmp_path / "traces.db", config=_config(tmp_path, True))
