"""Checkpoints of the audit chain's head, kept outside the audit database.

A hash chain alone cannot show that rows were cut off its end, or that the table was emptied: what is left is
still a valid chain. So after every append the audit logger hands a checkpoint ``{seq, hash, ts}`` of the new
head to a witness, and ``verify()`` checks that the chain still reaches the latest checkpoint with the same
hash. With an audit key each checkpoint is signed (HMAC-SHA256), so a forged or edited checkpoint is caught
too; a checkpoint from a log written with another key is refused as well.

The witness is only as good as its separation from the database: a file on another volume, a file only the
logging service may append to (``chattr +a``), or a callable sink that ships checkpoints elsewhere (syslog, a
remote log, object storage). See ``docs/security.md`` for what an intruder can and cannot hide.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "FileWitness", "sign_checkpoint", "verify_checkpoint"]

Checkpoint = dict[str, Any]


def _payload(seq: int, digest: str, ts: str) -> bytes:
    return json.dumps({"seq": seq, "hash": digest, "ts": ts}, sort_keys=True, separators=(",", ":")).encode()


def sign_checkpoint(seq: int, digest: str, ts: str, key: bytes | None) -> Checkpoint:
    """A checkpoint of head ``(seq, digest)``; signed with ``key`` when given (``sig`` is ``None`` otherwise)."""
    sig = hmac.new(key, _payload(seq, digest, ts), hashlib.sha256).hexdigest() if key else None
    return {"seq": seq, "hash": digest, "ts": ts, "sig": sig}


def verify_checkpoint(checkpoint: Mapping[str, Any], key: bytes | None) -> bool:
    """Whether ``checkpoint`` is well formed and, with ``key``, carries a valid signature."""
    try:
        seq, digest, ts = int(checkpoint["seq"]), str(checkpoint["hash"]), str(checkpoint["ts"])
    except (KeyError, TypeError, ValueError):
        return False
    if key is None:
        return True
    sig = checkpoint.get("sig")
    expected = hmac.new(key, _payload(seq, digest, ts), hashlib.sha256).hexdigest()
    return isinstance(sig, str) and hmac.compare_digest(sig, expected)


class FileWitness:
    """Checkpoints appended to a JSON-lines file (one short ``O_APPEND`` write each, so processes sharing the
    file never interleave a line).

    Args:
        path: the witness file; created (owner read/write only) with its directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closer: weakref.finalize[Any, Any] | None = None

    def __call__(self, checkpoint: Checkpoint) -> None:
        line = (json.dumps(checkpoint, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._closer = weakref.finalize(self, os.close, self._fd)  # also when never closed
            os.write(self._fd, line)

    def close(self) -> None:
        """Close the file (the next checkpoint opens it again)."""
        with self._lock:
            if self._closer is not None:
                self._closer()
            self._fd = self._closer = None

    def read(self) -> list[Checkpoint | None]:
        """Every line parsed; ``None`` for a line that is not a JSON object (a damaged or forged line)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out: list[Checkpoint | None] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            out.append(value if isinstance(value, dict) else None)
        return out

    def __repr__(self) -> str:
        return f"FileWitness({str(self.path)!r})"


WitnessSink = Callable[[Checkpoint], None]
