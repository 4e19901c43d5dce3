"""The redactor's one pre-check (``may_hold_secret``) never lets through what the redactor would change, and the
tracer's payload redactor (which relies on it) gives what ``redact`` gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kaizen_lab.redact import may_hold_secret, redact, redact_text
from kaizen_lab.tracing._redact import PayloadRedactor

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
        assert may_hold_secret(secret), secret
        assert redactor({"text": secret}) == redact({"text": secret}), secret
        assert redactor({"text": secret}) != {"text": secret}, secret


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=80))
def test_precheck_is_conservative(text: str) -> None:
    if not may_hold_secret(text):
        assert redact_text(text) == text


# secret-looking words, separators, quotes and white space (Unicode spaces too: the rules' ``\s`` matches them)
_PIECES = st.sampled_from(["password", "api_key", "Token", "auth", "secret", "cookie", "passphrase", "=", ":",
                           '"', "'", " ", "\t", "\n", "\u2003", "\x85", "hunter22", "x9", "sk-", "bearer "])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join))
def test_precheck_is_conservative_around_assignments(text: str) -> None:
    if not may_hold_secret(text):
        assert redact_text(text) == text
        assert redact({"v": text}) == {"v": text}


def test_a_key_word_without_assignment_is_not_a_secret_marker() -> None:
    assert not may_hold_secret("the max_tokens setting and a key idea")
    assert may_hold_secret("password\t= hunter22")  # white space other than a blank before the separator
    assert redact_text("password\t= hunter22") == "password\t= [REDACTED]"


@settings(deadline=None)  # a loaded machine must not fail it
@given(st.dictionaries(st.sampled_from(["api_key", "token", "max_tokens", "note", "author", "password"]),
                       st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=6))
def test_walk_matches_the_security_redactor(payload: dict) -> None:
    assert PayloadRedactor()(payload) == redact(payload)


def test_extra_patterns_scan_everything() -> None:
    redactor = PayloadRedactor([r"ACME-\d+"])
    assert redactor({"n": "ticket ACME-42"}) == {"n": "ticket [REDACTED]"}


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES | st.sampled_from(["\u00a0", "\u2028", "\x1c", "Authorization", "AUTH", "Cookie"]),
                max_size=8).map("".join))
def test_the_one_pass_check_agrees_with_the_trigger_automaton(text: str) -> None:
    from kaizen_lab.redact import _scan

    assert may_hold_secret(text) == bool(text and _scan(text, text.lower()))


def test_a_longer_secret_word_is_seen_past_a_shorter_one() -> None:
    # "auth" is a prefix of "authorization": the check still sees "authorization" right before the ":"
    assert may_hold_secret('{"Authorization": "x1"}')
    assert may_hold_secret("token\u00a0= x1")  # any white space str.isspace() knows
    assert not may_hold_secret('{"author": "Jane", "note": "the key idea", "max_tokens": 5}')
