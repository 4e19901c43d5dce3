"""The evaluator's states, ``for:``, deduplication, repeats and silences, on a real registry with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from kaizen_lab.errors import UserError
from kaizen_lab.monitoring import AlertEvaluator, AlertLog, MetricHistory
from kaizen_lab.monitoring.rules import AlertRule, Increase, Ratio, Selector


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, *, for_s: float = 10, repeat_s: float = 3600) -> None:
        self.clock = Clock()
        self.registry = CollectorRegistry()
        self.runs = Counter("kaizen_agent_runs", "", ["agent", "channel", "status"], registry=self.registry)
        for status in ("ok", "error"):
            self.runs.labels("qa", "api", status)
        finished = Increase(Selector("kaizen_agent_runs_total", (("status", "=~", "ok|error"),)), 60)
        errors = Increase(Selector("kaizen_agent_runs_total", (("status", "=", "error"),)), 60)
        self.rule = AlertRule("ErrorRate", Ratio(errors, finished), ">", 0.5, for_s, "critical",
                              "{labels}: {value}", "ratio")
        self.sent: list[tuple[str, list[str]]] = []
        self.log = AlertLog()
        self.evaluator = AlertEvaluator([self.rule], MetricHistory([self.registry], horizon_s=120,
                                                                   clock=self.clock),
                                        notifiers=[self.notify], log_store=self.log, repeat_interval_s=repeat_s,
                                        clock=self.clock)
        self.evaluator.evaluate()

    def notify(self, status: str, alerts: Any) -> None:
        self.sent.append((status, [f"{a.rule}/{dict(a.labels)['agent']}" for a in alerts]))

    def step(self, seconds: float, *, ok: int = 0, errors: int = 0) -> list[str]:
        self.clock.now += seconds
        self.runs.labels("qa", "api", "ok").inc(ok)
        self.runs.labels("qa", "api", "error").inc(errors)
        return [a.state for a in self.evaluator.evaluate()]


def test_pending_then_firing_after_for_then_resolved() -> None:
    s = Setup(for_s=10)
    assert s.step(5, ok=1, errors=3) == ["pending"]
    assert s.evaluator.alerts()[0].state == "pending" and not s.sent
    assert s.step(5, errors=1) == []  # held 5 s of 10
    assert s.step(5, errors=1) == ["firing"]
    assert s.sent == [("firing", ["ErrorRate/qa"])]
    assert s.step(5, errors=1) == [] and len(s.sent) == 1  # deduplicated: firing is announced once
    assert s.step(70, ok=20) == ["resolved"]  # the errors left the 60 s window
    assert s.sent[-1] == ("resolved", ["ErrorRate/qa"])
    assert s.evaluator.alerts() == [] and [a.rule for a in s.evaluator.resolved()] == ["ErrorRate"]
    assert [(h["rule"], h["state"]) for h in s.log.history()] == [("ErrorRate", "resolved"), ("ErrorRate", "firing")]


def test_a_blip_shorter_than_for_never_fires() -> None:
    s = Setup(for_s=30)
    assert s.step(1, errors=5) == ["pending"]
    assert s.step(70, ok=10) == []  # pending alerts are dropped silently
    assert s.evaluator.alerts() == [] and s.sent == [] and s.log.history() == []


def test_for_zero_fires_at_once_and_repeats_after_the_interval() -> None:
    s = Setup(for_s=0, repeat_s=30)
    assert s.step(1, errors=2) == ["firing"]
    s.step(10, errors=1)
    assert len(s.sent) == 1
    s.step(25, errors=1)  # 35 s after the first notification
    assert [status for status, _ in s.sent] == ["firing", "firing"]


def test_silences_mute_notifications_but_not_the_alert() -> None:
    s = Setup(for_s=0)
    silence = s.evaluator.silence({"alertname": "ErrorRate", "agent": "qa"}, 100, comment="deploying")
    s.step(1, errors=3)
    firing = s.evaluator.firing()
    assert [a.silenced for a in firing] == [True] and s.sent == []
    s.evaluator.expire(silence.id)
    s.step(1, errors=1)
    assert s.sent == [("firing", ["ErrorRate/qa"])]
    with pytest.raises(UserError, match="no active silence"):
        s.evaluator.expire(silence.id)


def test_a_silence_for_another_agent_does_not_mute() -> None:
    s = Setup(for_s=0)
    s.evaluator.silence({"agent": "billing"}, 100)
    s.step(1, errors=3)
    assert s.sent == [("firing", ["ErrorRate/qa"])]


def test_silences_expire_by_time() -> None:
    s = Setup(for_s=0)
    s.evaluator.silence({"alertname": "ErrorRate"}, 5)
    s.step(1, errors=3)
    assert s.sent == []
    s.step(10, errors=1)
    assert s.sent == [("firing", ["ErrorRate/qa"])] and s.evaluator.silences == []


def test_bad_silences_are_user_errors() -> None:
    s = Setup()
    with pytest.raises(UserError, match="at least one matcher"):
        s.evaluator.silence({}, 10)
    with pytest.raises(UserError, match="positive duration"):
        s.evaluator.silence({"alertname": "ErrorRate"}, 0)


def test_a_broken_rule_does_not_stop_the_others() -> None:
    s = Setup(for_s=0)

    class Broken:
        def evaluate(self, source: Any) -> dict[Any, float]:
            raise ValueError("no such metric")

        def promql(self) -> str:
            return "broken"

    s.evaluator.rules.insert(0, AlertRule("Broken", Broken(), ">", 0))  # type: ignore[arg-type]
    s.step(1, errors=3)
    assert s.evaluator.rule_errors == {"Broken": "no such metric"}
    assert [a.rule for a in s.evaluator.firing()] == ["ErrorRate"]
    assert s.evaluator.to_dict()["rule_errors"] == {"Broken": "no such metric"}


def test_a_failing_notifier_does_not_stop_evaluation() -> None:
    s = Setup(for_s=0)

    def broken(status: str, alerts: Any) -> None:
        raise ConnectionError("receiver down")

    s.evaluator.notifiers.insert(0, broken)
    s.step(1, errors=3)
    assert s.sent == [("firing", ["ErrorRate/qa"])]


def test_background_evaluation_runs_and_stops() -> None:
    import time

    s = Setup(for_s=0)
    before = s.evaluator.evaluations
    s.evaluator.start(0.02)
    deadline = time.monotonic() + 5
    while s.evaluator.evaluations < before + 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.evaluator.stop()
    assert s.evaluator.evaluations >= before + 3 and not s.evaluator.running
