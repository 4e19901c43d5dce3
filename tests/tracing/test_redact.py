"""The tracer's redaction pre-check never lets through what the security redactor would change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kaizen_lab.security.redact import redact, redact_text
from kaizen_lab.tracing._redact import PayloadRedactor, _maybe_secret

SECRETS = [
    "sk-abcdefghijklmnopqrstuvwxyz12", "sk-ant-api03-abcdefghijklmnopqrstuv", "Authorization: Bearer abcdef123456",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "AKIAABCDEFGHIJKLMNOP",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "xoxb-1234567890-abcdef", "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "postgres://user:hunter2@db/x", "password = hunter2", '{"api_key": "abc123"}', "token=xyz123",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "sk_live_abcdefghijklmnop1234",
]


def test_every_known_secret_shape_is_caught() -> None:
    redactor = PayloadRedactor()
    for secret in SECRETS:
        assert _maybe_secret(secret), secret
        assert redactor({"text": secret}) == redact({"text": secret}), secret
        assert redactor({"text": secret}) != {"text": secret}, secret


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=80))
def test_precheck_is_conservative(text: str) -> None:
    if not _maybe_secret(text):
        assert redact_text(text) == text


@given(st.dictionaries(st.sampled_from(["api_key", "token", "max_tokens", "note", "author", "password"]),
                       st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=6))
def test_walk_matches_the_security_redactor(payload: dict) -> None:
    assert PayloadRedactor()(payload) == redact(payload)


def test_extra_patterns_scan_everything() -> None:
    redactor = PayloadRedactor([r"ACME-\d+"])
    assert redactor({"n": "ticket ACME-42"}) == {"n": "ticket [REDACTED]"}
