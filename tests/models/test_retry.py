"""The retry policy, Retry-After parsing, secret redaction."""

from __future__ import annotations

import email.utils
import time

import pytest

from kaizen_lab.errors import ModelError
from kaizen_lab.models._retry import RetryPolicy, parse_retry_after, redact, with_retries

pytestmark = pytest.mark.anyio


def test_backoff_is_exponential_and_capped():
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_its_fraction():
    low = RetryPolicy(initial_delay=2.0, jitter=0.25, random=lambda: 0.999)
    high = RetryPolicy(initial_delay=2.0, jitter=0.25, random=lambda: 0.0)
    assert high.delay(1) == 2.0
    assert 1.5 <= low.delay(1) < 1.51


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(initial_delay=1.0, max_retry_after=10.0)
    assert policy.delay(3, retry_after=2.5) == 2.5
    assert policy.delay(1, retry_after=600) == 10.0


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "4"}, 4.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after-ms": "120"}, 0.12),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= parse_retry_after({"retry-after": when}) <= 30


async def test_with_retries_stops_at_non_retryable():
    calls: list[int] = []
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def call() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ModelError("flaky", retryable=True)
        raise ModelError("bad request", status=400)

    seen: list[tuple[int, float]] = []
    with pytest.raises(ModelError, match="bad request") as info:
        await with_retries(call, policy=RetryPolicy(sleep=sleep, random=lambda: 0.0),
                           on_retry=lambda attempt, err, delay: seen.append((attempt, delay)))
    assert len(calls) == 2 and sleeps == [0.5] and seen == [(1, 0.5)]
    assert info.value.attempts == 2


async def test_with_retries_zero_retries_makes_one_attempt():
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        raise ModelError("down", retryable=True)

    with pytest.raises(ModelError, match="^down$"):
        await with_retries(call, policy=RetryPolicy(max_retries=0))
    assert calls == [1]


def test_redact_nested():
    secret = "sk-abcdef123"
    value = {"error": {"message": f"bad key {secret}", "list": [secret, 3]}}
    assert redact(value, [secret, None]) == {"error": {"message": "bad key ***", "list": ["***", 3]}}
    assert redact("abc", ["ab"]) == "abc"  # too short to be a secret: left alone
