"""Alert notifications: signed webhooks (retried with backoff) and the alert history table.

A webhook receives the same JSON an Alertmanager webhook receiver gets (``version: "4"``, ``status``,
``alerts[]`` with ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``fingerprint``), so one receiver
handles alerts from this process and from Alertmanager alike. Each delivery is signed:
``X-Kaizen-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with a secret read from an
environment variable (never from the config file); ``verify_signature`` checks it on the receiving side.
Deliveries run on a background thread so a slow receiver never delays evaluation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kaizen_lab.errors import ConfigError
from kaizen_lab.monitoring.engine import Alert

__all__ = ["AlertLog", "WebhookNotifier", "alertmanager_payload", "sign", "verify_signature"]

log = logging.getLogger("kaizen_lab.monitoring")
SIGNATURE_HEADER = "X-Kaizen-Signature"
_ZERO_TIME = "0001-01-01T00:00:00Z"


def _iso(ts: float | None) -> str:
    if ts is None:
        return _ZERO_TIME
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def alertmanager_payload(status: str, alerts: Sequence[Alert], *, receiver: str = "kaizen-lab") -> dict[str, Any]:
    """The Alertmanager webhook body (version 4) for these alerts."""
    items: list[dict[str, Any]] = [{"status": "resolved" if a.state == "resolved" else "firing", "labels": a.all_labels,
              "annotations": {"summary": a.summary, "value": f"{a.value:g}"},
              "startsAt": _iso(a.fired_at or a.active_at), "endsAt": _iso(a.resolved_at),
              "generatorURL": "", "fingerprint": a.fingerprint} for a in alerts]
    common = dict(set.intersection(*(set(i["labels"].items()) for i in items))) if items else {}
    return {"version": "4", "status": status, "receiver": receiver, "groupKey": f"{receiver}:{status}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": common, "commonAnnotations": {},
            "externalURL": "", "alerts": items}


def sign(secret: str, body: bytes, *, now: float | None = None) -> str:
    """The signature header value for ``body``."""
    ts = int(time.time() if now is None else now)
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify_signature(secret: str, header: str | None, body: bytes, *, tolerance_s: float = 300.0,
                     now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old (replays fail)."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookNotifier:
    """Posts alerts to a URL, signed, retrying connection errors, 408, 429 and 5xx with exponential backoff.

    Args:
        url: the receiver.
        secret_env: the environment variable holding the signing secret (unsigned when ``None``).
        max_retries, initial_delay, max_delay: the backoff.
        timeout_s: per request.
        sleep: the pause between attempts (injectable for tests).
    """

    def __init__(self, url: str, *, secret_env: str | None = None, max_retries: int = 5,
                 initial_delay: float = 0.5, max_delay: float = 30.0, timeout_s: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"monitoring.webhooks: {url!r} is not an http(s) URL", path="monitoring.webhooks",
                              value=url)
        self.url = url
        self.secret_env = secret_env
        if secret_env and not os.environ.get(secret_env):
            raise ConfigError(f"monitoring.webhooks: the signing secret variable {secret_env} is not set; "
                              f"export {secret_env}=<a long random string> or drop secret_env",
                              path="monitoring.webhooks")
        from kaizen_lab.models._retry import RetryPolicy

        self.policy = RetryPolicy(max_retries=max_retries, initial_delay=initial_delay, max_delay=max_delay)
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.delivered = 0
        self.failed = 0
        self.attempts = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, status: str, alerts: Sequence[Alert]) -> None:
        self._queue.put(json.dumps(alertmanager_payload(status, alerts)).encode())
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kaizen-webhook", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                body = self._queue.get(timeout=5)
            except queue.Empty:
                return
            if body is None:
                return
            try:
                self.deliver(body)
            finally:
                self._queue.task_done()

    def deliver(self, body: bytes) -> bool:
        """Post one payload now (retrying); True when the receiver accepted it."""
        import httpx

        from kaizen_lab.models._retry import parse_retry_after

        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            headers = {"content-type": "application/json"}
            secret = os.environ.get(self.secret_env) if self.secret_env else None
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, body)
            retry_after = None
            try:
                response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
                if response.status_code < 300:
                    self.delivered += 1
                    return True
                reason = f"HTTP {response.status_code}"
                retryable = response.status_code in (408, 429) or response.status_code >= 500
                retry_after = parse_retry_after({k.lower(): v for k, v in response.headers.items()})
            except httpx.HTTPError as exc:
                reason, retryable = f"{type(exc).__name__}", True
            if not retryable or attempt > self.policy.max_retries:
                self.failed += 1
                log.warning("alert webhook %s gave up after %d attempt(s): %s", self.url, attempt, reason)
                return False
            self.sleep(self.policy.delay(attempt, retry_after))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until queued deliveries are done (for tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r}, signed={bool(self.secret_env)})"


class AlertLog:
    """Alert transitions in the run store's SQLite file (table ``kaizen_alert_history``), or in memory."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS kaizen_alert_history (id INTEGER PRIMARY KEY, ts REAL "
                             "NOT NULL, rule TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, "
                             "severity TEXT, labels TEXT, value REAL, summary TEXT)")
            self._db.execute("CREATE INDEX IF NOT EXISTS kaizen_alert_history_ts ON kaizen_alert_history (ts)")

    def record(self, alert: Alert, now: float) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO kaizen_alert_history (ts, rule, fingerprint, state, severity, labels, "
                             "value, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (now, alert.rule, alert.fingerprint, alert.state, alert.severity,
                              json.dumps(alert.all_labels), alert.value, alert.summary))

    def history(self, *, limit: int = 50, rule: str | None = None) -> list[dict[str, Any]]:
        """Newest transitions first."""
        sql = "SELECT ts, rule, fingerprint, state, severity, labels, value, summary FROM kaizen_alert_history"
        args: tuple[Any, ...] = ()
        if rule is not None:
            sql, args = sql + " WHERE rule = ?", (rule,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [{"ts": ts, "rule": r, "fingerprint": fp, "state": st, "severity": sev, "labels": json.loads(lab),
                 "value": val, "summary": summ} for ts, r, fp, st, sev, lab, val, summ in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def webhook_notifiers(entries: Sequence[Mapping[str, Any]]) -> list[WebhookNotifier]:
    """Notifiers for ``monitoring.webhooks`` entries (``{url: ..., secret_env: ...}``)."""
    out = []
    for i, entry in enumerate(entries):
        if "url" not in entry:
            raise ConfigError(f"monitoring.webhooks[{i}]: needs a url, e.g. {{url: http://127.0.0.1:9000/hook, "
                              "secret_env: KAIZEN_WEBHOOK_SECRET}", path=f"monitoring.webhooks.{i}")
        unknown = set(entry) - {"url", "secret_env", "max_retries", "timeout_s"}
        if unknown:
            raise ConfigError(f"monitoring.webhooks[{i}]: unknown keys {sorted(unknown)}; allowed: url, secret_env, "
                              "max_retries, timeout_s", path=f"monitoring.webhooks.{i}")
        out.append(WebhookNotifier(str(entry["url"]), secret_env=entry.get("secret_env"),
                                   max_retries=int(entry.get("max_retries", 5)),
                                   timeout_s=float(entry.get("timeout_s", 5.0))))
    return out
