"""Authentication routes: API keys, passwords, JWT bearer tokens, lockout."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from kaizen_lab.errors import AuthenticationError, ConfigError, UserError
from kaizen_lab.security import KaizenSecurityManager
from kaizen_lab.security.auth import ApiKeyStore, JWTAuthority, LockoutTracker, UserStore, hash_api_key

SECRET = "test-secret-" + "s" * 40
OTHER_SECRET = "other-secret-" + "o" * 40


@pytest.fixture
def manager(clock: Any, fast_hasher: Any) -> KaizenSecurityManager:
    sec = KaizenSecurityManager({"auth": {"max_failed_attempts": 3, "lockout_seconds": 60, "token_ttl_seconds": 600}},
                                clock=clock, password_hasher=fast_hasher, jwt_secret=SECRET, leeway_seconds=5)
    sec.add_user("alice", "correct horse battery", roles=["developer"])
    return sec


# ----------------------------------------------------------------------------------------------- API keys


def test_api_key_round_trip_and_hash_only_storage() -> None:
    store = ApiKeyStore()
    key = store.create("ci-bot", ["operator"], name="ci")
    result = store.authenticate(key)
    assert result.ok and result.principal == "ci-bot" and result.roles == ("operator",)
    assert result.method == "api_key"
    exported = json.dumps(store.export())
    assert key not in exported and key.split("_", 2)[2] not in exported
    assert "sha256$" in exported


def test_api_key_with_wrong_secret_is_refused() -> None:
    store = ApiKeyStore()
    key = store.create("ci-bot")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    result = store.authenticate(forged)
    assert not result.ok and result.reason == "invalid API key"
    assert not store.authenticate("kz_000000000000_" + "x" * 40).ok


def test_revoked_api_key_is_refused() -> None:
    store = ApiKeyStore()
    key = store.create("ci-bot")
    assert store.revoke(key)
    assert store.authenticate(key).reason == "API key revoked"


def test_exported_hashed_keys_reload_into_a_new_store() -> None:
    first = ApiKeyStore()
    key = first.create("svc", ["viewer"])
    second = ApiKeyStore()
    for entry in first.export():
        second.add(entry["key"], entry["principal"], entry["roles"], hashed=True)
    assert second.authenticate(key).principal == "svc"


def test_salted_hashes_differ_for_the_same_key() -> None:
    assert hash_api_key("k" * 32) != hash_api_key("k" * 32)


def test_short_foreign_key_is_a_user_error() -> None:
    with pytest.raises(UserError, match="at least 16 characters"):
        ApiKeyStore().add("short", "x")


# ----------------------------------------------------------------------------------------------- passwords


def test_password_success_and_wrong_password(manager: KaizenSecurityManager) -> None:
    ok = manager.authenticate_user({"username": "alice", "password": "correct horse battery"})
    assert ok.ok and ok.principal == "alice" and ok.roles == ("developer",) and ok.method == "password"
    bad = manager.authenticate_user(("alice", "wrong password"))
    assert not bad.ok and bad.reason == "unknown user or wrong password"
    unknown = manager.authenticate_user(("mallory", "correct horse battery"))
    assert not unknown.ok and unknown.reason == bad.reason  # no user enumeration


def test_passwords_are_stored_as_argon2id(fast_hasher: Any) -> None:
    store = UserStore(hasher=fast_hasher)
    store.add("bob", "s3cret-password")
    stored = store._users["bob"].password_hash
    assert stored.startswith("$argon2id$") and "s3cret-password" not in stored


def test_bcrypt_hashes_from_elsewhere_verify() -> None:
    import bcrypt

    store = UserStore()
    store.add("legacy", password_hash=bcrypt.hashpw(b"old-password", bcrypt.gensalt(rounds=4)).decode())
    assert store.authenticate("legacy", "old-password").ok
    assert not store.authenticate("legacy", "new-password").ok


def test_bad_password_inputs_are_user_errors(fast_hasher: Any) -> None:
    store = UserStore(hasher=fast_hasher)
    with pytest.raises(UserError, match="at least 8"):
        store.add("bob", "short")
    with pytest.raises(ConfigError, match="neither argon2 nor bcrypt"):
        store.add("bob", password_hash="plaintext")


# ----------------------------------------------------------------------------------------------- JWT


def test_issued_token_verifies(manager: KaizenSecurityManager) -> None:
    login = manager.authenticate_user(("alice", "correct horse battery"))
    token = manager.issue_token(login, ttl=120)
    result = manager.authenticate_bearer(f"Bearer {token}")
    assert result.ok and result.principal == "alice" and result.roles == ("developer",)
    assert result.method == "jwt" and result.claims["iss"] == "kaizen-lab"
    assert result.expires_at == manager.clock() // 1 + 120


def test_expired_token_is_refused_after_the_leeway(manager: KaizenSecurityManager, clock: Any) -> None:
    token = manager.issue_token("alice", ttl=60)
    clock.advance(60 + 4)  # within the 5 s leeway
    assert manager.authenticate_bearer(f"Bearer {token}").ok
    clock.advance(2)
    result = manager.authenticate_bearer(f"Bearer {token}")
    assert not result.ok and "expired" in result.reason


def test_token_from_the_future_is_refused(clock: Any) -> None:
    issuer = JWTAuthority(SECRET, clock=lambda: clock() + 3600)
    verifier = JWTAuthority(SECRET, clock=clock, leeway=5)
    result = verifier.verify(issuer.issue("alice"))
    assert not result.ok and "not valid yet" in result.reason


@pytest.mark.parametrize(
    ("issuer_kwargs", "reason"),
    [
        ({"secret": OTHER_SECRET}, "signature is invalid"),
        ({"audience": "some-other-service"}, "audience"),
        ({"issuer": "evil-issuer"}, "issuer"),
    ],
    ids=["wrong-key", "wrong-audience", "wrong-issuer"],
)
def test_forged_tokens_are_refused(clock: Any, issuer_kwargs: dict[str, Any], reason: str) -> None:
    kwargs = {"secret": SECRET, **issuer_kwargs}
    forger = JWTAuthority(kwargs.pop("secret"), clock=clock, **kwargs)
    verifier = JWTAuthority(SECRET, clock=clock)
    result = verifier.verify(forger.issue("alice", roles=["admin"]))
    assert not result.ok and reason in result.reason and result.roles == ()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_unsigned_alg_none_token_is_refused(clock: Any) -> None:
    now = int(clock())
    claims = {"sub": "alice", "iss": "kaizen-lab", "aud": "kaizen-lab", "iat": now, "exp": now + 60,
              "roles": ["admin"]}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    result = JWTAuthority(SECRET, clock=clock).verify(token)
    assert not result.ok and "algorithm" in result.reason


def test_tampered_payload_is_refused(clock: Any) -> None:
    authority = JWTAuthority(SECRET, clock=clock)
    header, _payload, signature = authority.issue("alice", roles=["viewer"]).split(".")
    now = int(clock())
    forged = {"sub": "alice", "iss": "kaizen-lab", "aud": "kaizen-lab", "iat": now, "exp": now + 60,
              "roles": ["admin"]}
    result = authority.verify(f"{header}.{_b64(forged)}.{signature}")
    assert not result.ok and "signature" in result.reason


def test_token_missing_required_claims_is_refused(clock: Any) -> None:
    token = jwt.encode({"sub": "alice", "iss": "kaizen-lab", "aud": "kaizen-lab"}, SECRET, algorithm="HS256")
    result = JWTAuthority(SECRET, clock=clock).verify(token)
    assert not result.ok and "required claim" in result.reason


def test_garbage_token_is_refused(manager: KaizenSecurityManager) -> None:
    result = manager.authenticate_user({"token": "eyJnot.a.token"})
    assert not result.ok and result.method == "jwt"


def test_asymmetric_tokens(clock: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def pem() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    key = pem()
    authority = JWTAuthority(key, algorithm="ES256", clock=clock)
    assert authority.verify(authority.issue("svc")).principal == "svc"
    other = JWTAuthority(pem(), algorithm="ES256", clock=clock)
    assert not authority.verify(other.issue("svc")).ok


def test_weak_jwt_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        JWTAuthority("short")
    with pytest.raises(ConfigError, match="'none' is not allowed"):
        JWTAuthority(SECRET, algorithm="none")


# ----------------------------------------------------------------------------------------------- lockout


def test_lockout_after_repeated_failures_then_unlock_after_window(manager: KaizenSecurityManager,
                                                                  clock: Any) -> None:
    for _ in range(3):
        assert not manager.authenticate_user(("alice", "wrong password")).ok
    locked = manager.authenticate_user(("alice", "correct horse battery"))
    assert not locked.ok and "locked out" in locked.reason
    clock.advance(59)
    assert "locked out" in manager.authenticate_user(("alice", "correct horse battery")).reason
    clock.advance(2)
    assert manager.authenticate_user(("alice", "correct horse battery")).ok


def test_failures_outside_the_window_do_not_add_up(manager: KaizenSecurityManager, clock: Any) -> None:
    for _ in range(2):
        manager.authenticate_user(("alice", "wrong password"))
    clock.advance(61)
    manager.authenticate_user(("alice", "wrong password"))
    assert manager.authenticate_user(("alice", "correct horse battery")).ok


def test_success_resets_the_failure_count(manager: KaizenSecurityManager) -> None:
    for _ in range(2):
        manager.authenticate_user(("alice", "wrong password"))
    assert manager.authenticate_user(("alice", "correct horse battery")).ok
    for _ in range(2):
        manager.authenticate_user(("alice", "wrong password"))
    assert manager.authenticate_user(("alice", "correct horse battery")).ok


def test_bad_bearer_credentials_from_one_address_lock_nobody_out(manager: KaizenSecurityManager) -> None:
    key = manager.create_api_key("bot")
    for i in range(20):
        assert not manager.authenticate_user({"api_key": f"kz_{i:012d}_" + "x" * 40}, client="10.0.0.9").ok
        assert not manager.authenticate_bearer("Bearer eyJ.garbage.token", client="10.0.0.9").ok
    # the neighbour behind the same address keeps working, with a key or a password
    assert manager.authenticate_bearer(f"Bearer {key}", client="10.0.0.9").ok
    assert manager.authenticate_user(("alice", "correct horse battery"), client="10.0.0.9").ok


def test_guessing_a_victims_key_id_from_another_address_does_not_lock_the_key(
        manager: KaizenSecurityManager) -> None:
    key = manager.create_api_key("bot")
    key_id = key.split("_")[1]
    for i in range(20):
        result = manager.authenticate_user({"api_key": f"kz_{key_id}_garbage{i:030d}"}, client="203.0.113.7")
        assert not result.ok and "locked" not in result.reason
    assert manager.authenticate_bearer(f"Bearer {key}", client="203.0.113.7").ok  # even from the attacker's
    assert manager.authenticate_bearer(f"Bearer {key}", client="10.0.0.1").ok


def test_password_lockout_is_per_address_and_username(manager: KaizenSecurityManager) -> None:
    manager.add_user("bob", "bobs long password", roles=["viewer"])
    for _ in range(3):
        manager.authenticate_user(("alice", "wrong password"), client="203.0.113.7")
    locked = manager.authenticate_user(("alice", "correct horse battery"), client="203.0.113.7")
    assert not locked.ok and "too many failed password attempts" in locked.reason
    # alice from her own address, and bob from the attacker's address, are unaffected
    assert manager.authenticate_user(("alice", "correct horse battery"), client="10.0.0.1").ok
    assert manager.authenticate_user(("bob", "bobs long password"), client="203.0.113.7").ok


def test_repeated_lockouts_back_off_exponentially(manager: KaizenSecurityManager, clock: Any) -> None:
    waits = []
    for _ in range(3):
        for _ in range(3):
            manager.authenticate_user(("alice", "wrong password"), client="203.0.113.7")
        waits.append(manager.lockout.locked_for("203.0.113.7|alice"))
        clock.advance(waits[-1] + 1)
    assert waits == [60, 120, 240]
    assert manager.authenticate_user(("alice", "correct horse battery"), client="203.0.113.7").ok
    for _ in range(3):  # a success ends the streak
        manager.authenticate_user(("alice", "wrong password"), client="203.0.113.7")
    assert manager.lockout.locked_for("203.0.113.7|alice") == 60


def test_password_spraying_from_one_address_pauses_its_password_logins_only(
        manager: KaizenSecurityManager) -> None:
    key = manager.create_api_key("bot")
    for i in range(12):  # 4 x max_failed_attempts, each username below its own limit
        manager.authenticate_user((f"user{i}", "guess"), client="203.0.113.7")
    assert "too many failed" in manager.authenticate_user(("alice", "correct horse battery"),
                                                          client="203.0.113.7").reason
    assert manager.authenticate_bearer(f"Bearer {key}", client="203.0.113.7").ok
    assert manager.authenticate_user(("alice", "correct horse battery"), client="10.0.0.1").ok


def test_lockout_tracker_manual_unlock(clock: Any) -> None:
    tracker = LockoutTracker(2, window=10, lockout=100, clock=clock)
    assert tracker.record_failure("x") is False
    assert tracker.record_failure("x") is True
    assert tracker.locked_for("x") == 100
    tracker.unlock("x")
    assert tracker.locked_for("x") == 0


# ----------------------------------------------------------------------------------------------- channels


def test_bearer_header_accepts_api_keys_and_tokens(manager: KaizenSecurityManager) -> None:
    key = manager.create_api_key("bot", ["viewer"])
    assert manager.authenticate_bearer(f"Bearer {key}").principal == "bot"
    assert manager.authenticate_bearer(f"bearer {manager.issue_token('bot')}").principal == "bot"


@pytest.mark.parametrize("header", [None, "", "   ", "Basic YWxpY2U6cHc=", "Bearer", "Token abc"])
def test_bad_or_missing_authorization_header_is_refused(manager: KaizenSecurityManager, header: str | None) -> None:
    result = manager.authenticate_bearer(header)
    assert not result.ok and "Bearer" in result.reason


def test_authenticate_headers(manager: KaizenSecurityManager) -> None:
    key = manager.create_api_key("bot")
    assert manager.authenticate_headers({"X-API-Key": key}).principal == "bot"
    assert manager.authenticate_headers({"authorization": f"Bearer {key}"}).principal == "bot"
    assert not manager.authenticate_headers({"Content-Type": "application/json"}).ok


def test_require_authenticated_raises(manager: KaizenSecurityManager) -> None:
    with pytest.raises(AuthenticationError, match="wrong password"):
        manager.require_authenticated(("alice", "nope-nope"))
    assert manager.require_authenticated(("alice", "correct horse battery")).principal == "alice"


def test_unsupported_credentials_fail_with_a_reason(manager: KaizenSecurityManager) -> None:
    assert "unsupported credentials" in manager.authenticate_user(42).reason
    assert "no credentials" in manager.authenticate_user({}).reason


def test_token_cannot_be_issued_from_a_failed_login(manager: KaizenSecurityManager) -> None:
    failed = manager.authenticate_user(("alice", "wrong password"))
    with pytest.raises(AuthenticationError, match="failed authentication"):
        manager.issue_token(failed)


@pytest.mark.parametrize(("only", "accepted", "refused"), [("api_key", "key", "jwt"), ("jwt", "jwt", "key")])
def test_auth_method_setting_narrows_bearer_credentials(only: str, accepted: str, refused: str) -> None:
    sec = KaizenSecurityManager({"auth": {"method": only}}, jwt_secret=SECRET)
    creds = {"key": sec.create_api_key("bot"), "jwt": sec.issue_token("bot")}
    assert sec.authenticate_bearer(f"Bearer {creds[accepted]}").ok
    refusal = sec.authenticate_bearer(f"Bearer {creds[refused]}")
    assert not refusal.ok and f"security.auth.method: {only}" in refusal.reason
