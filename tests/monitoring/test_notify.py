"""Webhooks: Alertmanager's payload, HMAC signatures, retries with backoff against a real local HTTP receiver."""

from __future__ import annotations

import json

import pytest

from kaizen_lab.errors import ConfigError
from kaizen_lab.monitoring import WebhookNotifier, verify_signature
from kaizen_lab.monitoring.engine import Alert
from kaizen_lab.monitoring.notify import alertmanager_payload, sign, webhook_notifiers
from tests.monitoring.conftest import WebhookReceiver

SECRET = "k" * 48


def _alert(state: str = "firing") -> Alert:
    return Alert("KaizenAgentErrorRateHigh", (("agent", "qa"),), "critical", state, 0.5, "agent=qa: 50.0%", 100.0,
                 fired_at=110.0, resolved_at=200.0 if state == "resolved" else None)


def test_the_payload_is_alertmanagers_webhook_format() -> None:
    body = alertmanager_payload("firing", [_alert()])
    assert body["version"] == "4" and body["status"] == "firing"
    (alert,) = body["alerts"]
    assert alert["labels"] == {"alertname": "KaizenAgentErrorRateHigh", "severity": "critical", "agent": "qa"}
    assert alert["startsAt"] == "1970-01-01T00:01:50Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert body["commonLabels"]["agent"] == "qa" and len(alert["fingerprint"]) == 16
    resolved = alertmanager_payload("resolved", [_alert("resolved")])["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["endsAt"] == "1970-01-01T00:03:20Z"


def test_signatures_verify_and_reject_tampering_and_replays() -> None:
    body = b'{"status": "firing"}'
    header = sign(SECRET, body, now=1000)
    assert verify_signature(SECRET, header, body, now=1010)
    assert not verify_signature(SECRET, header, body + b" ", now=1010)
    assert not verify_signature("other" * 10, header, body, now=1010)
    assert not verify_signature(SECRET, header, body, now=1000 + 301)  # too old: a replay
    assert not verify_signature(SECRET, None, body) and not verify_signature(SECRET, "garbage", body)


def test_a_failing_receiver_is_retried_with_backoff(receiver: WebhookReceiver,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    waits: list[float] = []
    hook = WebhookNotifier(f"{receiver.url}/hook", secret_env="HOOK_SECRET", max_retries=4, initial_delay=0.5,
                           sleep=waits.append)
    receiver.fail_next = 2
    hook("firing", [_alert()])
    hook.flush()
    assert [r["answered"] for r in receiver.requests] == [500, 500, 200]
    assert hook.delivered == 1 and hook.failed == 0 and hook.attempts == 3
    assert len(waits) == 2 and 0.375 <= waits[0] <= 0.5 and 0.75 <= waits[1] <= 1.0  # exponential, jittered
    delivered = receiver.requests[-1]
    assert verify_signature(SECRET, delivered["headers"]["X-Kaizen-Signature"], delivered["body"])
    assert json.loads(delivered["body"])["alerts"][0]["labels"]["alertname"] == "KaizenAgentErrorRateHigh"


def test_a_receiver_that_stays_down_is_given_up_on(receiver: WebhookReceiver) -> None:
    hook = WebhookNotifier(f"{receiver.url}/hook", max_retries=2, sleep=lambda s: None)
    receiver.fail_next = 10
    assert hook.deliver(b"{}") is False
    assert hook.failed == 1 and len(receiver.requests) == 3
    assert "X-Kaizen-Signature" not in receiver.requests[0]["headers"]  # no secret configured: unsigned


def test_an_unreachable_receiver_is_retried_then_given_up_on() -> None:
    from tests.fixtures.services import free_port

    waits: list[float] = []
    hook = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook", max_retries=2, sleep=waits.append,
                           timeout_s=1)
    assert hook.deliver(b"{}") is False and len(waits) == 2


def test_webhook_config_mistakes_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        webhook_notifiers([{"url": "ftp://x"}])
    with pytest.raises(ConfigError, match="needs a url"):
        webhook_notifiers([{"secret_env": "X"}])
    with pytest.raises(ConfigError, match="unknown keys"):
        webhook_notifiers([{"url": "http://127.0.0.1:9/h", "secret": "inline"}])
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    with pytest.raises(ConfigError, match="MISSING_SECRET is not set"):
        webhook_notifiers([{"url": "http://127.0.0.1:9/h", "secret_env": "MISSING_SECRET"}])
