"""MCP Inspector 2.x (on the provisioned Node 22) against ``kaizen-lab mcp serve --http`` with a bearer token:
it lists and calls the agents' tools without any OAuth detour, and sees the server's identity and tool hints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kaizen_lab import __version__
from tests.fixtures.node22 import Node22Tools
from tests.mcp.conftest import AGENTS_APP

TOKEN = "inspector-test-token-0123456789"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "mcp", "serve", f"{AGENTS_APP}:agents",
                             "--http", "--port", "0", "--token", TOKEN], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"at (http://\S+/mcp)", line)
        assert match, f"no URL announced: {line!r}"
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def _inspector(node22: Node22Tools, tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "catalog.json")}
    return subprocess.run(node22.inspector_cmd("--cli", url, "--transport", "http", *args), capture_output=True,
                          text=True, timeout=180, env=env, cwd=tmp_path)


def _json(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr[-1500:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def test_inspector2_lists_and_calls_tools_with_bearer_token(node22: Node22Tools, served: str,
                                                              tmp_path: Path) -> None:
    auth = ("--header", f"Authorization: Bearer {TOKEN}")
    listed = _json(_inspector(node22, tmp_path, served, "--method", "tools/list", *auth))
    tools = {t["name"]: t for t in listed["tools"]}
    assert set(tools) == {"qa", "adder"}
    assert tools["adder"]["title"] == "Adder"
    hints = tools["adder"]["annotations"]
    assert hints["readOnlyHint"] is True and hints["idempotentHint"] is False
    called = _json(_inspector(node22, tmp_path, served, "--method", "tools/call", "--tool-name", "adder",
                              "--tool-arg", "a=4", "--tool-arg", "b=5", *auth))
    assert called["structuredContent"] == {"total": 9} and not called.get("isError")
    # nothing OAuth-shaped was asked for or offered: the static token server serves no protected-resource metadata
    assert "oauth" not in (called_text := json.dumps(called)).lower() and "authorize" not in called_text
    metadata = httpx.get(served.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
    assert metadata.status_code == 404


def test_server_identity_is_the_package_version(served: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    reply = httpx.post(served, json=body, headers=headers)
    text = reply.text
    data = json.loads(text[text.index("{"):].splitlines()[0]) if "data:" in text else reply.json()
    info = data["result"]["serverInfo"]
    assert info["name"] == "kaizen-lab" and info["version"] == __version__ and info["version"]
    refused = httpx.post(served, json=body, headers={"Accept": headers["Accept"]})
    assert refused.status_code == 401 and "resource_metadata" not in refused.headers["www-authenticate"]
