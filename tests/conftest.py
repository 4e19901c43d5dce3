"""Suite-wide isolation: a temporary HOME, no network, no real model requests.

The environment is rewritten when this module is imported, i.e. before any test module (and so before
kaizen_lab, Jupyter or IPython) can read HOME or the XDG/Jupyter directories. Subprocesses started by tests
(the console script, Jupyter kernels, servers) inherit the same temporary directories.

The network guard patches ``socket.socket.connect`` for the whole session: connections to loopback and Unix
sockets work (local PostgreSQL, Redis, MCP and HTTP servers), anything else raises ``NetworkBlockedError``.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ("tests.fixtures.services",)

SESSION_DIR = tempfile.mkdtemp(prefix="kaizen-tests-")

_DIRS = {
    "HOME": "home",
    "XDG_CONFIG_HOME": "home/.config",
    "XDG_DATA_HOME": "home/.local/share",
    "XDG_CACHE_HOME": "home/.cache",
    "XDG_STATE_HOME": "home/.local/state",
    "XDG_RUNTIME_DIR": "runtime",
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
    "JUPYTERLAB_SETTINGS_DIR": "jupyter/lab/user-settings",
    "JUPYTERLAB_WORKSPACES_DIR": "jupyter/lab/workspaces",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
    "KAIZEN_HOME": "kaizen",
}
# A developer's own settings or keys must not change what the tests see (or leak into their output).
_SCRUB_PREFIXES = ("KAIZEN_",)
_SCRUB_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def _isolate_environment() -> None:
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
            del os.environ[name]
    for name, sub in _DIRS.items():
        path = os.path.join(SESSION_DIR, sub)
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.environ[name] = path
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"  # silences jupyter_core's migration warning; paths stay in tmp
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"


_isolate_environment()

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Files a test leaves in the working tree (a stray .kaizen/ store, DataFlow's migrations/) are reported at the end.
_REPO_BEFORE = set(os.listdir(REPO_ROOT))
_REPO_IGNORED = {".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


class NetworkBlockedError(OSError):
    """Raised when a test tries to reach a non-loopback address."""


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
_blocked: list[str] = []


def _is_local_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0]  # IPv6 scope id
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _is_ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_local_host(host):
        _blocked.append(repr(address))
        raise NetworkBlockedError(
            f"network access blocked in tests: connect to {address!r}. Tests may only reach loopback "
            "servers they start themselves (see tests/conftest.py)"
        )


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # Resolving a public name is itself a network request (DNS); the machine's own name resolves locally.
    if host is not None and not _is_local_host(host) and not _is_ip_literal(host) and host != socket.gethostname():
        _blocked.append(f"getaddrinfo({host!r})")
        raise socket.gaierror(socket.EAI_NONAME, f"name resolution blocked in tests: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def _install_network_guard() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


def _remove_network_guard() -> None:
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


def pytest_configure(config: pytest.Config) -> None:
    _install_network_guard()
    from kaizen_lab.models import base

    base.ALLOW_REAL_REQUESTS = False


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _blocked:
        terminalreporter.write_sep("-", "blocked network access")
        for entry in sorted(set(_blocked)):
            terminalreporter.write_line(entry)
    litter = sorted(set(os.listdir(REPO_ROOT)) - _REPO_BEFORE - _REPO_IGNORED)
    if litter:
        terminalreporter.write_sep("-", "files created in the repository by tests (use tmp_path / monkeypatch.chdir)")
        for name in litter:
            terminalreporter.write_line(os.path.join(REPO_ROOT, name))


def pytest_unconfigure(config: pytest.Config) -> None:
    _remove_network_guard()
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_real_model_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with hosted-model requests forbidden, whatever an earlier test did."""
    from kaizen_lab.models import base

    monkeypatch.setattr(base, "ALLOW_REAL_REQUESTS", False)
    yield


@pytest.fixture
def session_dir() -> str:
    """The temporary directory that holds this session's HOME, XDG and Jupyter directories."""
    return SESSION_DIR
