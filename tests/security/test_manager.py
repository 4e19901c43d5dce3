"""KaizenSecurityManager: configuration, channel helpers, authorization, audit, encryption and redaction wiring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.config import SecurityConfig
from kaizen_lab.errors import AuthorizationError, ConfigError
from kaizen_lab.security import AuditLogger, AuthResult, DecryptionError, KaizenSecurityManager, generate_key
from kaizen_lab.security.crypto import ENV_KEY
from kaizen_lab.security.manager import JWT_SECRET_ENV

ROOT = Path(__file__).resolve().parents[2]
SECRET = "m" * 40


def test_accepts_a_security_config_object(tmp_path: Path, clock: Any) -> None:
    config = SecurityConfig(audit_logging=True, audit_path=str(tmp_path / "audit.db"), rbac_enabled=True,
                            auth={"max_failed_attempts": 2, "lockout_seconds": 10})
    sec = KaizenSecurityManager(config, clock=clock, jwt_secret=SECRET)
    assert sec.audit_enabled and sec.rbac_enabled and sec.lockout.max_failures == 2
    assert sec.audit is not None and Path(sec.audit.location) == tmp_path / "audit.db"
    sec.close()


def test_accepts_a_dict_with_extra_security_settings() -> None:
    sec = KaizenSecurityManager({"rbac_enabled": True, "roles": {"bot": ["execute:agent/nightly-*"]},
                                 "jwt_issuer": "acme", "jwt_secret": SECRET})
    token = sec.issue_token("ci", roles=["bot"])
    user = sec.authenticate_bearer(f"Bearer {token}")
    assert user.claims["iss"] == "acme"
    assert sec.authorize_operation(user, "execute", "agent/nightly-report").allowed
    assert not sec.authorize_operation(user, "execute", "agent/other").allowed


def test_defaults_with_none() -> None:
    sec = KaizenSecurityManager()
    assert not sec.audit_enabled and sec.audit is None and not sec.rbac_enabled
    key = sec.create_api_key("me")
    assert sec.authenticate_bearer(f"Bearer {key}").ok


def test_unknown_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'rbac_enabled'"):
        KaizenSecurityManager({"rbac_enable": True})
    with pytest.raises(ConfigError, match="did you mean 'jwt_secret'"):
        KaizenSecurityManager(jwt_secrt="x")


def test_tokens_are_shared_through_the_environment_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET)
    token = KaizenSecurityManager().issue_token("svc")
    assert KaizenSecurityManager().authenticate_bearer(f"Bearer {token}").principal == "svc"
    monkeypatch.delenv(JWT_SECRET_ENV)
    # Without a configured secret each manager signs with its own random one.
    assert not KaizenSecurityManager().authenticate_bearer(f"Bearer {KaizenSecurityManager().issue_token('x')}").ok


def test_rbac_off_allows_only_authenticated_principals() -> None:
    sec = KaizenSecurityManager()
    assert sec.authorize_operation(AuthResult(ok=True, principal="a"), "execute", "agent/x").allowed
    denied = sec.authorize_operation(AuthResult.failure("jwt", "expired"), "execute", "agent/x")
    assert not denied.allowed and denied.reason == "not authenticated"
    assert not sec.authorize_operation(None, "execute", "agent/x").allowed


def test_require_raises_authorization_error() -> None:
    sec = KaizenSecurityManager({"rbac_enabled": True})
    viewer = AuthResult(ok=True, principal="v", roles=("viewer",))
    with pytest.raises(AuthorizationError, match="v may not execute agent/qa"):
        sec.require(viewer, "execute", "agent/qa")
    assert sec.require(viewer, "read", "trace/1").allowed


def test_audit_records_authentication_and_decisions_without_secrets(tmp_path: Path, fast_hasher: Any) -> None:
    sec = KaizenSecurityManager({"audit_logging": True, "audit_path": str(tmp_path / "a.db"), "rbac_enabled": True},
                                password_hasher=fast_hasher, jwt_secret=SECRET)
    sec.add_user("alice", "correct horse battery", ["viewer"])
    bad_key = "kz_0123456789ab_" + "S" * 43
    sec.authenticate_bearer(f"Bearer {bad_key}", client="127.0.0.1")
    sec.authenticate_user(("alice", "wrong-password-123"))
    alice = sec.authenticate_user(("alice", "correct horse battery"))
    sec.authorize_operation(alice, "read", "trace/1")
    sec.authorize_operation(alice, "execute", "agent/qa")
    records = sec.audit.records()
    assert [(r.user_id, r.operation, r.result) for r in records] == [
        ("anonymous", "authenticate", "failure"),
        ("alice", "authenticate", "failure"),
        ("alice", "authenticate", "success"),
        ("alice", "read", "allowed"),
        ("alice", "execute", "denied"),
    ]
    assert records[0].details_dict == {"client": "127.0.0.1", "reason": "unknown API key"}
    dump = json.dumps([r.to_dict() for r in records])
    assert "S" * 20 not in dump and "wrong-password-123" not in dump and "correct horse" not in dump
    assert sec.audit.verify().ok
    sec.close()
    with AuditLogger(tmp_path / "a.db") as reopened:
        assert len(reopened) == 5


def test_encryption_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="encryption is not enabled"):
        KaizenSecurityManager().encrypt("x")
    monkeypatch.delenv(ENV_KEY, raising=False)
    with pytest.raises(ConfigError, match=ENV_KEY):
        KaizenSecurityManager({"encryption_enabled": True}).encrypt("x")
    monkeypatch.setenv(ENV_KEY, generate_key())
    sec = KaizenSecurityManager({"encryption_enabled": True})
    assert sec.decrypt(sec.encrypt("state")) == b"state"
    token = sec.encrypt("state")
    monkeypatch.setenv(ENV_KEY, generate_key())
    with pytest.raises(DecryptionError):
        KaizenSecurityManager({"encryption_enabled": True}).decrypt(token)


def test_encryption_key_file_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.security import write_key_file

    monkeypatch.delenv(ENV_KEY, raising=False)
    path = write_key_file(tmp_path / "k")
    sec = KaizenSecurityManager({"encryption_enabled": True, "key_file": str(path)})
    assert sec.decrypt(sec.encrypt(b"x")) == b"x"


def test_redaction_settings() -> None:
    sec = KaizenSecurityManager({"redact_patterns": [r"ACCT-\d+"]})
    assert sec.redact({"msg": "ACCT-42 password=pw1234"}) == {"msg": "[REDACTED] password=[REDACTED]"}
    off = KaizenSecurityManager({"redact_secrets": False})
    assert off.redact("password=pw1234") == "password=pw1234"


def test_import_is_light() -> None:
    code = ("import sys, json; import kaizen_lab.security as s; "
            "from kaizen_lab.security import KaizenSecurityManager, AuditLogger, AccessController, redact; "
            "assert callable(redact); "
            "print(json.dumps(sorted(m for m in ('jwt', 'argon2', 'bcrypt', 'cryptography', 'psycopg2', "
            "'pydantic', 'kailash', 'sqlite3') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def test_agent_runs_and_tool_calls_are_audited(tmp_path: Path) -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.models import TestModel

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    sec = KaizenSecurityManager({"audit_logging": True, "audit_path": str(tmp_path / "a.db")})
    stop = sec.audit_events(principal="notebook")
    try:
        agent = Agent("calc", "question -> answer", model=TestModel(), tools=[add])
        agent.execute(question="1+1?")
        with sec.acting_as(AuthResult(ok=True, principal="alice")):
            result = agent.execute(question="2+2?")
    finally:
        stop()
    agent.execute(question="after stop")  # not recorded
    rows = [(r.user_id, r.operation, r.resource, r.result) for r in sec.audit.records()]
    assert rows == [
        ("notebook", "call", "tool/add", "success"),
        ("notebook", "execute", "agent/calc", "success"),
        ("alice", "call", "tool/add", "success"),
        ("alice", "execute", "agent/calc", "success"),
    ]
    assert sec.audit.records()[-1].details_dict["run_id"] == result.run_id
    assert sec.audit.verify().ok
    sec.close()


def test_audit_events_is_a_no_op_when_audit_is_off() -> None:
    from kaizen_lab.events import has_listeners

    before = has_listeners()
    stop = KaizenSecurityManager().audit_events()
    assert has_listeners() == before
    stop()


def test_kaizen_facade_exposes_the_manager(tmp_path: Path) -> None:
    from kaizen_lab.framework import Kaizen

    kaizen = Kaizen({"security": {"rbac_enabled": True, "audit_logging": True,
                                  "audit_path": str(tmp_path / "audit.db")}})
    sec = kaizen.security
    assert sec is kaizen.security and sec.rbac_enabled and sec.audit_enabled
    viewer = AuthResult(ok=True, principal="v", roles=("viewer",))
    assert not sec.authorize_operation(viewer, "execute", "agent/qa").allowed
    assert sec.audit.records()[-1].result == "denied"
    sec.close()
