"""The suite-wide guards in tests/conftest.py: temporary HOME, no network, no real model requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_lab.errors import RealRequestsForbiddenError
from kaizen_lab.models import base
from tests import conftest
from tests.conftest import SESSION_DIR, NetworkBlockedError


@pytest.fixture
def expect_blocked() -> Iterator[None]:
    """The attempts below are deliberate: keep them out of the end-of-session report."""
    before = len(conftest._blocked)
    yield
    assert len(conftest._blocked) > before  # the guard did record the attempt
    del conftest._blocked[before:]


@pytest.mark.parametrize("name", ["HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
                                  "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                                  "KAIZEN_HOME"])
def test_user_directories_live_in_the_session_dir(name: str) -> None:
    path = Path(os.environ[name])
    assert path.is_relative_to(SESSION_DIR) and path.is_dir()


def test_home_expansion_points_to_the_session_dir() -> None:
    assert Path(os.path.expanduser("~")) == Path(SESSION_DIR) / "home"


def test_subprocesses_inherit_the_temporary_home() -> None:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.path.expanduser('~'))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(Path(SESSION_DIR) / "home")


def test_developer_keys_are_scrubbed() -> None:
    assert "OPENAI_API_KEY" not in os.environ and "ANTHROPIC_API_KEY" not in os.environ


def test_connect_to_a_public_address_is_blocked(expect_blocked: None) -> None:
    with pytest.raises(NetworkBlockedError, match=r"network access blocked in tests: connect to \('203\.0\.113\.9', 80\)"):
        socket.create_connection(("203.0.113.9", 80), timeout=0.5)


def test_connect_ex_to_ipv6_public_address_is_blocked(expect_blocked: None) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlockedError):
        sock.connect_ex(("2001:db8::1", 443, 0, 0))


def test_name_resolution_of_public_names_is_blocked(expect_blocked: None) -> None:
    with pytest.raises(socket.gaierror, match="name resolution blocked in tests: 'example.org'"):
        socket.getaddrinfo("example.org", 443)


def test_loopback_still_works() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                accepted.append(conn.recv(5))

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("localhost", port), timeout=5) as client:
            client.sendall(b"hello")
        thread.join(5)
    assert accepted == [b"hello"]


def test_real_model_requests_are_forbidden() -> None:
    assert base.ALLOW_REAL_REQUESTS is False
    with pytest.raises(RealRequestsForbiddenError, match="ALLOW_REAL_REQUESTS is False"):
        base.check_allow_real_requests("openai")


def test_guard_is_restored_after_a_test_flips_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # the autouse fixture set it for this test; a test turning it on only affects itself
    monkeypatch.setattr(base, "ALLOW_REAL_REQUESTS", True)
    base.check_allow_real_requests("openai")  # allowed inside this test only


def test_guard_is_off_again() -> None:
    assert base.ALLOW_REAL_REQUESTS is False
