"""Precision and recall of the redactor on a labelled corpus.

Secrets: every kind the built-in rules handle, each in several realistic contexts (log lines, headers, config
text, JSON, prose), with random key material from a seeded generator. Look-alikes: ordinary text that shares
prefixes, labels or shapes with secrets. Recall must be 100% (no secret survives) and no look-alike may change.
"""

from __future__ import annotations

import random
import string

import pytest

from kaizen_lab.security import REDACTED, redact_text

_rng = random.Random(20261202)
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"


def _pick(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def _aws_secret() -> str:
    while True:  # the real generator's output: 40 base64 characters
        value = _pick(_B64, 40)
        if any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def _pem(kind: str) -> str:
    body = "\n".join(_pick(_B64, 64) for _ in range(4))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


# (kind, secret, text containing it)
def _secrets() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []

    def add(kind: str, secret: str, *templates: str) -> None:
        out.extend((kind, secret, t.format(s=secret)) for t in templates)

    for _ in range(2):
        add("openai", "sk-" + _pick(_ALNUM, 48), "OPENAI_API_KEY={s}", "using key {s} for the call")
        add("openai_project", "sk-proj-" + _pick(_ALNUM + "_-", 120), "Incorrect API key provided: {s}.")
        add("anthropic", "sk-ant-api03-" + _pick(_ALNUM + "_-", 80), "x-api-key: {s}")
        add("bearer", _pick(_ALNUM + "-._~+/", 40), "Authorization: Bearer {s}", "curl -H 'authorization: bearer {s}'")
        add("jwt", "eyJ" + _pick(_ALNUM, 30) + ".eyJ" + _pick(_ALNUM, 60) + "." + _pick(_ALNUM + "_-", 43),
            "token was {s} ok")
        add("aws_access_key", "AKIA" + _pick(string.ascii_uppercase + string.digits, 16), "aws id {s}")
        add("aws_secret_bare", _aws_secret(), "{s}", "creds: AKIAIOSFODNN7EXAMPLE {s}", "secret is {s}\n")
        add("aws_secret_labelled", _aws_secret(), "aws_secret_access_key = {s}")
        add("github", "ghp_" + _pick(_ALNUM, 36), "git clone https://{s}@github.com/o/r")
        add("github_pat", "github_pat_" + _pick(_ALNUM + "_", 82), "GH_TOKEN={s}")
        add("slack", "xoxb-" + _pick(string.digits, 12) + "-" + _pick(_ALNUM, 24), "slack bot {s}")
        add("google", "AIza" + _pick(_ALNUM + "_-", 35), "maps key {s} loaded")
        add("stripe", "sk_live_" + _pick(_ALNUM, 24), "stripe.api_key = '{s}'")
        add("kaizen", "kz_" + _pick("0123456789abcdef", 12) + "_" + _pick(_ALNUM + "_-", 43), "X-API-Key: {s}")
        add("url_password", _pick(_ALNUM, 14), "postgresql://app:{s}@db.internal:5432/prod",
            "redis://worker:{s}@127.0.0.1:6379/0")
        add("password_assignment", _pick(_ALNUM, 12) + "7", "password={s} user=bob", 'password: "{s}"',
            "db password: {s}")
        add("json_api_key", _pick(_ALNUM, 20), '{{"api_key": "{s}", "model": "gpt"}}')
        add("basic_auth", _pick(_B64, 24) + "==", "Authorization: Basic {s}")
        add("cookie", "session=" + _pick(_ALNUM, 32), "Cookie: {s}")
        add("private_key", _pem("RSA "), "key file:\n{s}\nend of file")
        add("private_key_cut", "MII" + _pick(_B64, 120), "-----BEGIN PRIVATE KEY-----\n{s}")
    return out


SECRETS = _secrets()

LOOKALIKES = [
    "token: the", "the token: the one you were given", "password: must be at least 12 characters long",
    "cookie: chocolate", "Secret: santa", "Secret: Santa is on Friday", "password: required", "Token: Ring",
    "Cookie: Monster", "credentials: missing", "PASSWORD: REQUIRED", "Authorization: required",
    "secret: garden", "api_key: unset", "session_key: rotated.",
    "sk-learn-pipeline", "we use an sk-learn-pipeline-for-tabular-data here", "the sk- prefix is short: sk-abc",
    "See -----BEGIN RSA PRIVATE KEY----- at the top of the file; the rest of this sentence stays.",
    "Files that start with -----BEGIN PRIVATE KEY----- must never be committed.",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "uuid 123e4567-e89b-12d3-a456-426614174000", "SHA1 3F786850E387550FDAB836ED7E6DC881DE23001B",
    "max_tokens=256 input_tokens: 7 token_ttl_seconds=3600", "author=bob tokens used: 12",
    "api_key=None password: null", "Bearer of bad news", "the bearer bond matured", "a.b.c and eyJ alone",
    "the AKIA prefix marks AWS access key ids", "ghp_ tokens start with ghp_", "xoxb- tokens belong to Slack bots",
    "AIza is the prefix of Google API keys", "sk_live_ means a production Stripe key", "kz_ is our key prefix",
    "https://example.com/docs/getting-started?page=2", "postgresql://localhost:5432/db",
    "mailto:someone@example.com", "http://user@host.example/path", "ThisIsAVeryLongCamelCaseIdentifierName12",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "src/Components/Header/NavigationBar/Item1",
    "/usr/local/lib/python3.11/site-packages/kaizen_lab/security/redact.py",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "The quick brown fox jumps over the lazy dog; the password reset link expired.",
    "Set OPENAI_API_KEY in your environment (see the docs).", "What's the secret: patience.",
    "my PIN is 4921", "Order #A1B2C3D4 shipped", "ISBN 978-3-16-148410-0",
    "The function returns a token: either a word or a number.", "cookie: oatmeal raisin, please",
]


def test_corpus_is_big_enough() -> None:
    kinds = {kind for kind, _s, _t in SECRETS}
    assert len(SECRETS) >= 50 and len(LOOKALIKES) >= 50 and len(kinds) >= 20


def test_recall_is_complete_on_every_kind() -> None:
    missed = [(kind, text) for kind, secret, text in SECRETS if secret in redact_text(text)]
    recall = 1 - len(missed) / len(SECRETS)
    assert missed == [], f"recall {recall:.1%}; missed: {missed[:5]}"


def test_no_lookalike_is_altered() -> None:
    altered = [(text, redact_text(text)) for text in LOOKALIKES if redact_text(text) != text]
    precision_misses = len(altered)
    assert altered == [], f"{precision_misses} look-alikes altered: {altered[:5]}"


@pytest.mark.parametrize(("kind", "secret", "text"), SECRETS[:: max(1, len(SECRETS) // 20)])
def test_redaction_keeps_the_context_and_is_idempotent(kind: str, secret: str, text: str) -> None:
    out = redact_text(text)
    assert REDACTED in out
    assert redact_text(out) == out
    before, _, after = text.partition(secret)
    assert out.startswith(before[: max(0, len(before) - 10)])  # the text before the secret survives


def test_unlabelled_aws_secret_keys_are_caught_almost_always() -> None:
    # the shape checks that keep paths and identifiers cannot be perfect on random keys: measure the rate
    rng = random.Random(7)
    keys = ["".join(rng.choice(_B64) for _ in range(40)) for _ in range(5000)]
    missed = sum(key in redact_text(f"AWS_SECRET {key}") for key in keys)
    assert missed / len(keys) < 0.001
