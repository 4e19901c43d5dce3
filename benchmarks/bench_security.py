"""Security figures: audit append/verify, redaction, authentication, RBAC decisions, encryption.

``audit_append_us`` is one hash-chained append to a SQLite file (WAL, its own transaction);
``audit_verify_10k_ms`` walks a 10,000-row chain. ``redact_*`` use a 300-character log line (clean, and with
two secrets) and a nested request dict. ``password_verify_ms`` uses argon2id's default cost (deliberately slow).
``audit_append_pg_us`` (full runs only, when PostgreSQL is installed) appends to a local PostgreSQL.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.run import median_seconds, repeats

ROOT = Path(__file__).resolve().parent.parent
CLEAN_LINE = ("2026-11-23 21:40:00 INFO run r_1a2b3c step=model_call model=gpt-4o-mini max_tokens=256 "
              "input_tokens=812 output_tokens=97 latency_ms=412.5 status=ok agent=qa question='What is the "
              "capital of France?' answer='Paris' confidence=0.93 retries=0 cache=miss tool_calls=0 done=1")
SECRET_LINE = CLEAN_LINE[:150] + " Authorization: Bearer abcdefghijklmnop1234 key=sk-proj-ABCDEFGHIJKLMNOPQRSTUV"


def _us(fn: Any, runs: int, inner: int) -> float:
    return round(median_seconds(fn, runs, inner=inner) * 1e6, 2)


def _audit(tmp: Path, runs: int) -> dict[str, float]:
    from kaizen_lab.security import AuditLogger

    with AuditLogger(tmp / "bench_append.db") as logger:
        for _ in range(50):
            logger.log_operation("warm", "execute", "agent/qa", "success")
        append = _us(lambda: logger.log_operation("alice", "execute", "agent/qa", "allowed", {"run": "r_1"}), runs, 50)
    with AuditLogger(tmp / "bench_verify.db") as logger:
        for i in range(10_000):
            logger.log_operation(f"user{i % 7}", "call", f"tool/t{i % 13}", "success", {"i": i})
        verify_ms = round(median_seconds(lambda: logger.verify(), max(3, runs // 4)) * 1e3, 2)
    return {"audit_append_us": append, "audit_verify_10k_ms": verify_ms}


def _audit_postgres() -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    try:
        from tests.fixtures.services import ServiceUnavailable, start_postgres
    except ImportError:
        return {}
    from kaizen_lab.security import AuditLogger

    try:
        with start_postgres() as url, AuditLogger(url) as logger:
            for _ in range(50):
                logger.log_operation("warm", "execute", "agent/qa", "success")
            return {"audit_append_pg_us": _us(lambda: logger.log_operation("a", "execute", "agent/qa", "ok"), 9, 50)}
    except ServiceUnavailable:
        return {}


def _auth(runs: int) -> dict[str, float]:
    from argon2 import PasswordHasher

    from kaizen_lab.security import AuthResult, KaizenSecurityManager

    sec = KaizenSecurityManager({"rbac_enabled": True}, jwt_secret="b" * 40, password_hasher=PasswordHasher())
    key = sec.create_api_key("bot", ["operator"])
    token = sec.issue_token("bot", roles=["operator"])
    sec.add_user("alice", "correct horse battery")
    user = AuthResult(ok=True, principal="bot", roles=("developer", "operator"))
    access = sec.access
    return {
        "api_key_auth_us": _us(lambda: sec.authenticate_user({"api_key": key}), runs, 200),
        "jwt_issue_us": _us(lambda: sec.issue_token("bot", roles=["operator"]), runs, 200),
        "jwt_verify_us": _us(lambda: sec.authenticate_bearer(f"Bearer {token}"), runs, 200),
        "password_verify_ms": round(median_seconds(lambda: sec.users.authenticate("alice", "correct horse battery"),
                                                   max(3, runs // 3)) * 1e3, 2),
        "rbac_decision_us": _us(lambda: access.authorize_operation(user, "call", "tool/filesystem.read"), runs, 2000),
    }


def _redact(runs: int) -> dict[str, float]:
    from kaizen_lab.security import redact, redact_text

    request = {"model": "gpt-4o-mini", "max_tokens": 256, "headers": {"Authorization": "Bearer abcdefghijkl"},
               "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": CLEAN_LINE}]}
    return {
        "redact_us": _us(lambda: redact_text(CLEAN_LINE), runs, 500),
        "redact_secrets_us": _us(lambda: redact_text(SECRET_LINE), runs, 500),
        "redact_obj_us": _us(lambda: redact(request), runs, 500),
    }


def _crypto(runs: int) -> dict[str, float]:
    from kaizen_lab.security import Encryptor, generate_key

    enc = Encryptor(generate_key())
    data = b"x" * 1024
    token = enc.encrypt(data)
    return {
        "encrypt_1kb_us": _us(lambda: enc.encrypt(data), runs, 200),
        "decrypt_1kb_us": _us(lambda: enc.decrypt(token), runs, 200),
    }


def run(quick: bool = False) -> dict[str, float]:
    runs = repeats(15)
    tmp = Path(tempfile.mkdtemp(prefix="kaizen-bench-security-"))
    try:
        figures = {**_redact(runs), **_auth(runs), **_crypto(runs), **_audit(tmp, runs)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quick:
        figures.update(_audit_postgres())
    return figures
