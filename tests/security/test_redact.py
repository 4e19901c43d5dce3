"""Secret redaction: every built-in pattern, secret-looking keys, nested structures, configured patterns."""

from __future__ import annotations

import collections
import re

import pytest

from kaizen_lab.errors import ConfigError
from kaizen_lab.security import REDACTED, Redactor, is_secret_key, redact, redact_text, register_patterns

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")

# (text, secret that must disappear, expected output)
CASES = [
    ("key sk-abcdefghijklmnopqrstuvwx1234", "sk-abcdefghijklmnopqrstuvwx1234", f"key {REDACTED}"),
    ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_-12", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_-12", REDACTED),
    ("x=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", f"x={REDACTED}"),
    ("Authorization: Bearer abc.def-ghi_jkl~mno", "abc.def-ghi_jkl~mno", f"Authorization: Bearer {REDACTED}"),
    ("curl -H 'authorization: bearer 0123456789abcdef'", "0123456789abcdef",
     f"curl -H 'authorization: bearer {REDACTED}'"),
    (f"token was {JWT} ok", JWT, f"token was {REDACTED} ok"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", REDACTED),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     f"aws_secret_access_key = {REDACTED}"),
    ("ghp_" + "A1" * 18, "ghp_" + "A1" * 18, REDACTED),
    ("github_pat_" + "11ABC" * 8, "github_pat_" + "11ABC" * 8, REDACTED),
    ("xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij", REDACTED),
    ("AIza" + "B" * 35, "AIza" + "B" * 35, REDACTED),
    ("sk_live_" + "9" * 24, "sk_live_" + "9" * 24, REDACTED),
    ("kz_0123456789ab_" + "Q" * 43, "kz_0123456789ab_" + "Q" * 43, REDACTED),
    ("postgresql://kaizen:hunter2pw@127.0.0.1:5432/db", "hunter2pw", f"postgresql://kaizen:{REDACTED}@127.0.0.1:5432/db"),
    ("redis://:s3cretpw@localhost:6379/0", None, "redis://:s3cretpw@localhost:6379/0"),  # no user: not matched
    ("password=hunter2 user=bob", "hunter2", f"password={REDACTED} user=bob"),
    ('{"api_key": "abc123", "model": "gpt"}', "abc123", f'{{"api_key": "{REDACTED}", "model": "gpt"}}'),
    ("OPENAI_API_KEY=abc123xyz", "abc123xyz", f"OPENAI_API_KEY={REDACTED}"),
    ("client_secret: 'topsecret'", "topsecret", f"client_secret: '{REDACTED}'"),
    ("url?access_token=abcd1234&x=1", "abcd1234", f"url?access_token={REDACTED}&x=1"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", REDACTED),
]

# Text that must come through unchanged (no false positives on everyday words).
CLEAN = [
    "max_tokens=100 input_tokens: 7 token_ttl_seconds=3600",
    "author=bob tokens used: 12",
    "api_key=None password: null",
    "the sk- prefix is short: sk-abc",
    "Bearer of bad news",
    "a.b.c and eyJ alone",
]


@pytest.mark.parametrize(("text", "secret", "expected"), CASES)
def test_each_builtin_pattern(text: str, secret: str | None, expected: str) -> None:
    out = redact_text(text)
    assert out == expected
    if secret:
        assert secret not in out
    assert redact_text(out) == out  # idempotent


@pytest.mark.parametrize("text", CLEAN)
def test_no_false_positives(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("key", "secret"),
    [("api_key", True), ("OPENAI_API_KEY", True), ("Authorization", True), ("x-api-key", True), ("token", True),
     ("access_token", True), ("password", True), ("client_secret", True), ("Cookie", True), ("auth", True),
     ("max_tokens", False), ("token_ttl_seconds", False), ("author", False), ("prompt_tokens", False),
     ("tokens", False), (3, False)],
)
def test_secret_key_names(key: object, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_nested_structures() -> None:
    Point = collections.namedtuple("Point", "label value")
    data = {
        "model": "gpt-4o-mini",
        "max_tokens": 256,
        "headers": {"Authorization": "Bearer abcdefghijkl", "X-Request": "1"},
        "auth": {"method": "jwt", "token": "opaque-value", "enabled": True},
        "password": 123456,
        "messages": [{"role": "user", "content": "my key is sk-abcdefghijklmnopqrstuvwx"}],
        "args": ("token=abcdef12", Point("p", "sk-ant-zzzzzzzzzzzzzzzzzzzz")),
        "tags": {"ghp_" + "x" * 36},
        "blob": b"password=hunter2",
        "none": None,
    }
    out = redact(data)
    assert out == {
        "model": "gpt-4o-mini",
        "max_tokens": 256,
        "headers": {"Authorization": REDACTED, "X-Request": "1"},
        "auth": {"method": "jwt", "token": REDACTED, "enabled": True},
        "password": REDACTED,
        "messages": [{"role": "user", "content": f"my key is {REDACTED}"}],
        "args": (f"token={REDACTED}", Point("p", REDACTED)),
        "tags": {REDACTED},
        "blob": f"password={REDACTED}".encode(),
        "none": None,
    }
    assert type(out["args"][1]) is Point
    assert data["headers"]["Authorization"] == "Bearer abcdefghijkl"  # the input is not modified


def test_configured_patterns() -> None:
    redactor = Redactor([r"ACME-\d{6}", re.compile(r"(customer=)\w+")])
    assert redactor.text("id ACME-123456 customer=bob") == f"id {REDACTED} customer={REDACTED}"
    assert redact_text("id ACME-123456", extra=[r"ACME-\d{6}"]) == f"id {REDACTED}"


def test_register_patterns_globally_and_remove() -> None:
    remove = register_patterns(r"INTERNAL-[A-Z]{4}")
    try:
        assert redact_text("see INTERNAL-ABCD") == f"see {REDACTED}"
        assert redact({"note": "INTERNAL-WXYZ"}) == {"note": REDACTED}
    finally:
        remove()
    assert redact_text("see INTERNAL-ABCD") == "see INTERNAL-ABCD"


def test_custom_replacement_and_builtin_off() -> None:
    assert Redactor(replacement="***").text("password=x1") == "password=***"
    assert Redactor(builtin=False).text("password=x1") == "password=x1"


def test_invalid_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        Redactor(["(unclosed"])


def test_text_whose_lower_case_changes_length() -> None:
    # 'İ'.lower() is two characters, so the lower-cased copy cannot be used for positions.
    assert redact_text("İstanbul Password=hunter2 İ") == f"İstanbul Password={REDACTED} İ"


def test_cyclic_structures_do_not_hang() -> None:
    data: dict[str, object] = {"a": "x"}
    data["self"] = data
    out = redact(data)
    assert out["a"] == "x"
