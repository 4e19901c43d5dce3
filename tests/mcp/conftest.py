"""Real MCP servers and clients for tests/mcp.

- our example server (``examples/mcp_servers/calc_notes.py``) and PyPI's ``mcp-server-time`` over stdio;
- npm's reference server and the MCP Inspector CLI from ``tests/mcp/node`` (``npm ci`` runs once per session
  when ``node_modules`` is missing; the tests that need them are skipped, with the reason, if that fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_lab.mcp import close_all
from tests.fixtures.node22 import Node22Tools, ProvisionError, provision

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
CALC_SERVER = [sys.executable, str(ROOT / "examples" / "mcp_servers" / "calc_notes.py")]
TIME_SERVER = [sys.executable, "-m", "mcp_server_time"]
AGENTS_APP = str(Path(__file__).resolve().parent / "agents_app.py")


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    close_all()


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """``tests/mcp/node/node_modules/.bin`` after ``npm ci`` (skips with the reason when npm can't provide it)."""
    bin_dir = NODE_DIR / "node_modules" / ".bin"
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed; install Node.js to run the npm reference-server tests")
    if not (bin_dir / "mcp-inspector").exists() or not (bin_dir / "mcp-server-everything").exists():
        try:
            proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                                  text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci in tests/mcp/node took over 10 minutes")
        if proc.returncode != 0:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"npm ci in tests/mcp/node failed under CI: {proc.stderr[-500:]}")
            pytest.skip(f"npm ci in tests/mcp/node failed: {proc.stderr[-500:]}")
    return bin_dir


@pytest.fixture(scope="session")
def node22() -> Node22Tools:
    """Node 22 with the MCP conformance suite and Inspector 2.x (``tests/fixtures/node22.py``); skips with the
    reason when npm can't provide them, and fails instead under ``CI=true``."""
    try:
        return provision()
    except ProvisionError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Node 22 tools unavailable under CI: {exc}")
        pytest.skip(str(exc))
