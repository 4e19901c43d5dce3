"""Discovery: client config files, kaizen-mcp.yaml, a local server speaking the MCP registry API, a port scan,
policy filters and ranking — against real servers."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kaizen_lab.errors import ConfigError, MCPError
from kaizen_lab.mcp import AgentMCPServer, MCPServiceDiscovery
from kaizen_lab.mcp.discovery import registry_entries
from tests.mcp.agents_app import adder
from tests.mcp.conftest import CALC_SERVER, TIME_SERVER

REGISTRY_PAGES = [
    {"servers": [
        {"server": {"name": "io.github.example/time", "description": "Time and timezone conversion",
                    "version": "1.0.0",
                    "packages": [{"registryType": "pypi", "identifier": "mcp-server-time", "version": "1.0.0",
                                  "runtimeHint": sys.executable, "transport": {"type": "stdio"},
                                  "runtimeArguments": [{"type": "positional", "value": "-m"},
                                                       {"type": "positional", "value": "mcp_server_time"}]}]},
         "_meta": {"io.modelcontextprotocol.registry/official": {"status": "active", "isLatest": True}}},
     ], "metadata": {"nextCursor": "page2", "count": 1}},
    {"servers": [
        {"server": {"name": "io.github.example/retired", "description": "timezone things, deleted",
                    "version": "0.1.0", "remotes": [{"type": "streamable-http", "url": "http://127.0.0.1:9/mcp"}]},
         "_meta": {"io.modelcontextprotocol.registry/official": {"status": "deleted"}}},
        {"server": {"name": "io.github.example/weather", "description": "Weather forecasts", "version": "2.0.0",
                    "packages": [{"registryType": "npm", "identifier": "@example/weather",
                                  "transport": {"type": "stdio"}}]}},
     ], "metadata": {"count": 2}},
]


class _Registry(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        type(self).requests.append(self.path)
        if parts.path != "/v0/servers":
            self.send_error(404)
            return
        page = REGISTRY_PAGES[1 if parse_qs(parts.query).get("cursor") == ["page2"] else 0]
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _claude_config(tmp_path: Path) -> Path:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": {
        "time": {"command": TIME_SERVER[0], "args": TIME_SERVER[1:]},
        "calc": {"command": CALC_SERVER[0], "args": CALC_SERVER[1:], "description": "arithmetic"},
        "off": {"command": "nothing", "disabled": True}}}))
    return path


def test_config_files_and_ranking(tmp_path: Path) -> None:
    vscode = tmp_path / "mcp.json"
    vscode.write_text(json.dumps({"servers": {"dead": {"type": "stdio", "command": sys.executable,
                                                       "args": ["-c", "raise SystemExit(1)"],
                                                       "description": "can add and multiply"}}}))
    discovery = MCPServiceDiscovery(config_files=[_claude_config(tmp_path), vscode], connect_timeout=20)
    ranked = discovery.discover(["add", "multiply"])
    assert [s.name for s in ranked] == ["calc", "dead"]
    calc, dead = ranked
    assert calc.healthy and calc.latency_ms > 0 and calc.matched == ["add", "multiply"] and calc.score == 10
    assert dead.healthy is False and dead.last_error and dead.score < calc.score
    summary = discovery.summary()
    assert summary[0]["tools"][0]["input_schema"]["type"] == "object"
    assert summary[0]["source"] == "claude_desktop_config.json"


def test_policy_filters(tmp_path: Path) -> None:
    config = _claude_config(tmp_path)
    assert [s.name for s in MCPServiceDiscovery(config_files=[config], deny=["ti*"]).candidates()] == ["calc"]
    assert [s.name for s in MCPServiceDiscovery(config_files=[config], allow=["time"]).candidates()] == ["time"]
    assert MCPServiceDiscovery(config_files=[config], transports=["http"]).candidates() == []
    assert MCPServiceDiscovery(config_files=[config], require_auth=True).discover(["time"], probe=False) == []
    with pytest.raises(ConfigError, match="unknown transports"):
        MCPServiceDiscovery(transports=["carrier-pigeon"])


def test_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kaizen-mcp.yaml").write_text(
        "servers:\n"
        f"  clock:\n    command: {sys.executable}\n    args: [-m, mcp_server_time]\n    tags: [time]\n"
        f"  calc:\n    command: {sys.executable}\n    args: ['{CALC_SERVER[1]}']\n"
        "policy:\n  deny: [calc]\n  max_services: 3\n")
    monkeypatch.chdir(tmp_path)
    discovery = MCPServiceDiscovery()
    assert discovery.max_services == 3
    found = discovery.discover(["time"])
    assert [s.name for s in found] == ["clock"] and found[0].source == "kaizen-mcp.yaml"


def test_registry_api(registry: str) -> None:
    discovery = MCPServiceDiscovery(registry_url=registry)
    names = [s.name for s in discovery.candidates(["time"])]
    assert names == ["time", "weather"]  # the deleted entry is skipped, page 2 was followed
    assert any("search=time" in r for r in _Registry.requests) and any("cursor=page2" in r for r in _Registry.requests)
    found = discovery.discover(["timezone"])
    assert [s.name for s in found] == ["time"] and found[0].healthy
    assert found[0].spec.args == ("-m", "mcp_server_time")


def test_registry_package_mapping() -> None:
    services = registry_entries(REGISTRY_PAGES[1])
    assert [(s.name, s.spec.command, s.spec.args) for s in services] == [("weather", "npx", ("@example/weather",))]


def test_registry_failure_is_typed() -> None:
    with pytest.raises(MCPError, match="MCP registry at http://127.0.0.1:9 failed"):
        MCPServiceDiscovery(registry_url="http://127.0.0.1:9", connect_timeout=2).candidates()


def test_port_scan_finds_local_http_server_and_its_auth() -> None:
    with AgentMCPServer([adder]).serve("http") as handle:
        discovery = MCPServiceDiscovery(scan_ports=[handle.port, handle.port + 1 if handle.port < 65535 else 1])
        found = discovery.discover(["adder"])
        assert found == []  # the scan can't see the tools behind the token ...
        candidates = discovery.candidates()
        assert [c.spec.url for c in candidates] == [handle.url]
        probed = discovery.probe(candidates[0])
        assert probed.auth_required and probed.healthy is False and "HTTP 401" in probed.last_error
    with AgentMCPServer([adder]).serve("http", auth=False) as open_handle:
        found = MCPServiceDiscovery(scan_ports=[open_handle.port]).discover(["adder"])
        assert [s.spec.url for s in found] == [open_handle.url] and found[0].healthy


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        MCPServiceDiscovery(config_files=[tmp_path / "nope.json"]).candidates()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"other": {}}))
    with pytest.raises(ConfigError, match="no 'mcpServers' or 'servers'"):
        MCPServiceDiscovery(config_files=[bad]).candidates()
