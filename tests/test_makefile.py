"""``make lab`` starts JupyterLab on 127.0.0.1 and prints a URL that answers with its token."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / ".venv" / ".installed"


def _installed_and_current() -> bool:
    # make -q exits 0 when the target is up to date: the test must never trigger an installation
    return (shutil.which("make") is not None and STAMP.is_file()
            and subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT).returncode == 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_for(url: str, proc: subprocess.Popen[str]) -> int:
    """The first HTTP status of ``url``, retrying while the port is not accepting connections yet."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return _status(url)
        except urllib.error.URLError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.2)


@pytest.mark.skipif(not _installed_and_current(), reason="run through 'make test' (the .venv must be installed)")
def test_make_lab_serves_jupyterlab_with_a_token(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}", f"JUPYTER_HOME={tmp_path}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    output: list[str] = []
    url = None
    try:
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                output.append(line)
                found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]+", line)
                url = found.group(0) if found else None
        assert url, "no URL printed:\n" + "".join(output)
        token = url.rsplit("=", 1)[1]
        assert _wait_for(url, proc) == 200, "".join(output)
        assert _status(f"http://127.0.0.1:{port}/api/status?token={token}") == 200
        assert _status(f"http://127.0.0.1:{port}/api/status") == 403  # the token is required
        settings = tmp_path / "config/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        assert '"fetchNews": "false"' in settings.read_text()  # no news fetched from the internet
        assert (tmp_path / "runtime").is_dir()  # runtime files stay out of the home directory
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stdout.close()
