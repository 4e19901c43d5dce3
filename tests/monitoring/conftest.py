"""Real Prometheus and Alertmanager (Debian's packages) on free loopback ports, and a webhook receiver.

Each server is our child with a temporary config and data folder, started with ``PR_SET_PDEATHSIG`` (it dies with
the test process) and stopped by PID. Alertmanager's clustering is turned off (it would bind every interface).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fixtures.services import _child_setup, _log_tail, _stop_process, free_port, unavailable


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 recording every POST (path, headers, raw body); ``fail_next`` answers 500s."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "answered": 500 if failing else 200})
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def payloads(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r["body"]) for r in self.requests if r["path"] == path and r["answered"] == 200]

    def seen(self, path: str, alertname: str, status: str) -> bool:
        return any(a["labels"].get("alertname") == alertname and a["status"] == status
                   for p in self.payloads(path) for a in p["alerts"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        unavailable(f"{binary} is not installed: apt-get install {package}")
    assert path is not None
    return path


def wait_until(predicate: Any, timeout: float, what: str, *, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def running(argv: list[str], ready_url: str, log: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_setup())
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{_log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready:\n{_log_tail(log)}")
            time.sleep(0.1)
        yield proc
    finally:
        _stop_process(proc)


@contextlib.contextmanager
def alertmanager(folder: Path, webhook_url: str) -> Iterator[str]:
    """Alertmanager posting every alert (and its resolution) to ``webhook_url`` at once; yields host:port."""
    binary = need("prometheus-alertmanager", "prometheus-alertmanager")
    config = {"route": {"receiver": "hook", "group_by": ["alertname", "agent"], "group_wait": "0s",
                        "group_interval": "1s", "repeat_interval": "1h"},
              "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}]}
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run([need("amtool", "prometheus-alertmanager"), "check-config", str(path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    (folder / "am-data").mkdir()
    argv = [binary, f"--config.file={path}", f"--storage.path={folder / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    with running(argv, f"http://127.0.0.1:{port}/-/ready", folder / "alertmanager.log", "alertmanager"):
        yield f"127.0.0.1:{port}"


@contextlib.contextmanager
def prometheus(folder: Path, config: dict[str, Any]) -> Iterator[str]:
    """Prometheus with ``config`` (rule files relative to ``folder``); yields its base URL."""
    binary = need("prometheus", "prometheus")
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run([need("promtool", "prometheus"), "check", "config", str(path)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    (folder / "prom-data").mkdir()
    argv = [binary, f"--config.file={path}", f"--storage.tsdb.path={folder / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    with running(argv, f"http://127.0.0.1:{port}/-/ready", folder / "prometheus.log", "prometheus"):
        yield f"http://127.0.0.1:{port}"


def prometheus_alerts(base: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["data"]["alerts"])
