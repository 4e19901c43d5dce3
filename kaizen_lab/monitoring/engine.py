"""The in-process alert evaluator: pending → firing → resolved, ``for:`` durations, deduplication and silences.

Every ``evaluate()`` samples the metrics, checks each rule and moves each alert (one per rule and label set)
through its states the way Prometheus does: a condition that starts holding makes the alert *pending*; once it
has held for the rule's ``for_s`` the alert *fires*; when it stops holding a firing alert is *resolved* (a
pending one is simply dropped). Notifiers hear about each firing and each resolution once (and again every
``repeat_interval_s`` while an alert keeps firing); a silence mutes notifications for matching alerts without
hiding them. Transitions are written to the alert history.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kaizen_lab.errors import UserError
from kaizen_lab.monitoring.history import MetricHistory
from kaizen_lab.monitoring.rules import AlertRule, LabelSet

__all__ = ["Alert", "AlertEvaluator", "Silence"]

log = logging.getLogger("kaizen_lab.monitoring")
State = Literal["pending", "firing", "resolved"]
_silence_ids = itertools.count(1)


def fingerprint(rule: str, labels: LabelSet) -> str:
    text = rule + "\x00" + "\x00".join(f"{k}={v}" for k, v in labels)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Alert:
    """One alert instance: a rule and the label set it fired for."""

    rule: str
    labels: LabelSet
    severity: str
    state: State
    value: float
    summary: str
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    silenced: bool = False
    last_notified: float | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.labels)

    @property
    def all_labels(self) -> dict[str, str]:
        """The rule name and severity as labels too, as Alertmanager sees them."""
        return {"alertname": self.rule, "severity": self.severity, **dict(self.labels)}

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "labels": self.all_labels, "state": self.state, "value": self.value,
                "summary": self.summary, "active_at": self.active_at, "fired_at": self.fired_at,
                "resolved_at": self.resolved_at, "silenced": self.silenced, "fingerprint": self.fingerprint}


@dataclass
class Silence:
    """Mutes notifications of alerts whose labels equal every matcher, from ``starts`` until ``ends``."""

    matchers: Mapping[str, str]
    starts: float
    ends: float
    comment: str = ""
    id: str = field(default_factory=lambda: f"silence-{next(_silence_ids)}")

    def active(self, now: float) -> bool:
        return self.starts <= now < self.ends

    def matches(self, alert: Alert) -> bool:
        labels = alert.all_labels
        return all(labels.get(k) == v for k, v in self.matchers.items())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "matchers": dict(self.matchers), "starts": self.starts, "ends": self.ends,
                "comment": self.comment}


Notifier = Callable[[str, Sequence[Alert]], None]


class AlertEvaluator:
    """Evaluates rules against a ``MetricHistory`` and keeps the alerts' states.

    Args:
        rules: the alert rules.
        history: the metric samples (``evaluate()`` takes a new sample first).
        notifiers: callables ``(status, alerts)`` with status ``"firing"`` or ``"resolved"``.
        log_store: an ``AlertLog`` the transitions are written to (optional).
        repeat_interval_s: how often a still-firing alert is notified again.
        clock: the time source, injectable for tests.
    """

    def __init__(self, rules: Sequence[AlertRule], history: MetricHistory, *, notifiers: Iterable[Notifier] = (),
                 log_store: Any = None, repeat_interval_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.rules = list(rules)
        self.history = history
        self.notifiers = list(notifiers)
        self.log_store = log_store
        self.repeat_interval_s = repeat_interval_s
        self.clock = clock
        self.silences: list[Silence] = []
        self.evaluations = 0
        self.rule_errors: dict[str, str] = {}
        self._alerts: dict[tuple[str, LabelSet], Alert] = {}
        self._resolved: list[Alert] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[AlertEvaluator], None]] = []

    # ------------------------------------------------------------------------------------------ evaluation

    def evaluate(self, now: float | None = None) -> list[Alert]:
        """Sample the metrics, apply every rule and return the alerts that changed state."""
        now = self.clock() if now is None else now
        self.history.sample(now)
        changed: list[Alert] = []
        with self._lock:
            seen: set[tuple[str, LabelSet]] = set()
            for rule in self.rules:
                try:
                    holding = rule.firing(self.history)
                except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
                    if self.rule_errors.get(rule.name) != str(exc):
                        log.warning("alert rule %s could not be evaluated: %s", rule.name, exc)
                    self.rule_errors[rule.name] = str(exc)
                    continue
                self.rule_errors.pop(rule.name, None)
                for labels, value in holding.items():
                    key = (rule.name, labels)
                    seen.add(key)
                    alert = self._alerts.get(key)
                    if alert is None:
                        alert = Alert(rule.name, labels, rule.severity, "pending", value,
                                      rule.describe(labels, value), now)
                        self._alerts[key] = alert
                        changed.append(alert)
                    alert.value, alert.summary = value, rule.describe(labels, value)
                    if alert.state == "pending" and now - alert.active_at >= rule.for_s:
                        alert.state, alert.fired_at = "firing", now
                        changed.append(alert)
            for key in [k for k in self._alerts if k not in seen]:
                alert = self._alerts.pop(key)
                if alert.state == "firing":
                    alert.state, alert.resolved_at = "resolved", now
                    self._resolved.append(alert)
                    del self._resolved[:-200]
                    changed.append(alert)
            for alert in self._alerts.values():
                alert.silenced = any(s.active(now) and s.matches(alert) for s in self.silences)
            self.silences = [s for s in self.silences if s.ends > now]
            self.evaluations += 1
            firing = [a for a in self._alerts.values() if a.state == "firing" and not a.silenced
                      and (a.last_notified is None or now - a.last_notified >= self.repeat_interval_s)]
            resolved = [a for a in changed if a.state == "resolved" and a.last_notified is not None]
            for alert in firing + resolved:
                alert.last_notified = now
        changed = list({id(a): a for a in changed}.values())
        for alert in changed:
            if self.log_store is not None and alert.state != "pending":
                self.log_store.record(alert, now)
            log.log(logging.WARNING if alert.state == "firing" else logging.INFO, "alert %s %s: %s",
                    alert.rule, alert.state, alert.summary)
        if firing:
            self._notify("firing", firing)
        if resolved:
            self._notify("resolved", resolved)
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # noqa: BLE001 - a display must not stop evaluation
                pass
        return changed

    def _notify(self, status: str, alerts: Sequence[Alert]) -> None:
        for notifier in self.notifiers:
            try:
                notifier(status, alerts)
            except Exception as exc:  # noqa: BLE001 - a broken receiver must not stop evaluation
                log.warning("alert notifier %r failed: %s", notifier, exc)

    # ------------------------------------------------------------------------------------------ queries

    def alerts(self, state: State | None = None) -> list[Alert]:
        """Current alerts (pending and firing), optionally one state only."""
        with self._lock:
            items = list(self._alerts.values())
        return [a for a in items if state is None or a.state == state]

    def firing(self) -> list[Alert]:
        return self.alerts("firing")

    def resolved(self) -> list[Alert]:
        """Alerts resolved since this evaluator started (newest last, at most 200)."""
        with self._lock:
            return list(self._resolved)

    def silence(self, matchers: Mapping[str, str], duration_s: float, *, comment: str = "") -> Silence:
        """Mute notifications for alerts matching every label in ``matchers`` (``alertname`` is the rule)."""
        if not matchers:
            raise UserError("a silence needs at least one matcher, e.g. {'alertname': 'KaizenAgentErrorRateHigh'}")
        if duration_s <= 0:
            raise UserError(f"a silence needs a positive duration, got {duration_s!r}")
        now = self.clock()
        silence = Silence(dict(matchers), now, now + duration_s, comment)
        with self._lock:
            self.silences.append(silence)
            for alert in self._alerts.values():
                alert.silenced = alert.silenced or silence.matches(alert)
        return silence

    def expire(self, silence_id: str) -> None:
        """End a silence now."""
        with self._lock:
            before = len(self.silences)
            self.silences = [s for s in self.silences if s.id != silence_id]
        if len(self.silences) == before:
            raise UserError(f"no active silence {silence_id!r}")

    def on_change(self, listener: Callable[[AlertEvaluator], None]) -> Callable[[], None]:
        """Call ``listener(evaluator)`` after every evaluation; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def to_dict(self, *, history: int = 50) -> dict[str, Any]:
        """What ``/alerts`` answers: current alerts, silences, rules and recent history."""
        past = self.log_store.history(limit=history) if self.log_store is not None else [
            a.to_dict() for a in self.resolved()[-history:]]
        return {"alerts": [a.to_dict() for a in self.alerts()],
                "silences": [s.to_dict() for s in self.silences],
                "rules": [{"name": r.name, "expr": r.promql(), "for_s": r.for_s, "severity": r.severity}
                          for r in self.rules],
                "rule_errors": dict(self.rule_errors), "history": past}

    # ------------------------------------------------------------------------------------------ background

    def start(self, interval_s: float) -> AlertEvaluator:
        """Evaluate every ``interval_s`` seconds on a daemon thread until ``stop()``."""
        if self._thread is not None:
            return self
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.evaluate()
                except Exception as exc:  # noqa: BLE001 - keep evaluating; say why once per failure
                    log.warning("alert evaluation failed: %s", exc)
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="kaizen-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
