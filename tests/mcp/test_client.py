"""The MCP client against real servers: PyPI's mcp-server-time and our example server, over stdio."""

from __future__ import annotations

import sys
import time

import pytest

from kaizen_lab.errors import ConfigError, MCPError
from kaizen_lab.mcp import MCPTimeoutError, connect, server_spec
from tests.mcp.conftest import CALC_SERVER, TIME_SERVER


def test_time_server_lists_and_calls_tools() -> None:
    conn = connect(TIME_SERVER)
    names = {t.name for t in conn.list_tools()}
    assert {"get_current_time", "convert_time"} <= names
    value = conn.call("get_current_time", {"timezone": "UTC"})
    assert value["timezone"] == "UTC" and value["datetime"].endswith("+00:00")


def test_tool_error_result_is_typed() -> None:
    conn = connect(TIME_SERVER)
    result = conn.call_tool("get_current_time", {"timezone": "Nowhere/Atlantis"})
    assert result.is_error and "Invalid timezone" in result.text
    with pytest.raises(MCPError, match="Invalid timezone") as info:
        conn.call("get_current_time", {"timezone": "Nowhere/Atlantis"})
    assert info.value.tool == "get_current_time" and info.value.server == "mcp_server_time"


def test_structured_result_is_unwrapped_and_resources_prompts_listed() -> None:
    conn = connect(CALC_SERVER)
    assert conn.call("add", {"a": 2, "b": 3}) == 5
    conn.call("save_note", {"title": "t1", "text": "hello"})
    assert [r["uri"] for r in conn.list_resources()] == ["notes://all"]
    read = conn.read_resource("notes://all")
    assert read.text == "t1: hello" and read.contents[0].mime_type == "text/plain"
    assert conn.list_prompts()[0]["name"] == "explain"
    assert conn.get_prompt("explain", {"topic": "MCP"})[0]["text"] == "Explain MCP in two sentences."


def test_list_tools_cached_until_server_announces_change() -> None:
    conn = connect(CALC_SERVER)
    first = conn.list_tools()
    assert conn.list_tools() is first  # served from the cache
    assert "power" not in {t.name for t in first}
    conn.call("enable_power")
    deadline = time.monotonic() + 5
    while conn.list_tools() is first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "power" in {t.name for t in conn.list_tools()}
    assert conn.call("power", {"base": 2, "exponent": 10}) == 1024


def test_call_timeout_raises_and_connection_survives() -> None:
    conn = connect(CALC_SERVER)
    t0 = time.monotonic()
    with pytest.raises(MCPTimeoutError, match="no answer within 0.3s") as info:
        conn.call("slow", {"seconds": 5}, timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert info.value.seconds == 0.3 and isinstance(info.value, TimeoutError)
    assert conn.call("add", {"a": 1, "b": 1}) == 2


def test_server_crash_mid_call_is_typed_then_reconnects() -> None:
    conn = connect(CALC_SERVER, shared=False, backoff=0.05)
    t0 = time.monotonic()
    with pytest.raises(MCPError, match="went away during the call to tool 'crash'"):
        conn.call("crash")
    assert time.monotonic() - t0 < 5
    assert conn.call("multiply", {"a": 3, "b": 4}) == 12
    assert conn.reconnects == 1
    conn.close()


def test_dead_server_gives_mcp_error_with_stderr() -> None:
    cmd = [sys.executable, "-c", "import sys; sys.stderr.write('no such thing\\n'); sys.exit(2)"]
    t0 = time.monotonic()
    with pytest.raises(MCPError, match="not reachable.*no such thing"):
        connect(cmd, name="broken", connect_timeout=10)
    assert time.monotonic() - t0 < 10


def test_server_that_never_answers_times_out() -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(MCPError, match="connect_timeout=0.5s"):
        connect(cmd, name="silent", connect_timeout=0.5, shared=False)


def test_server_spec_shapes() -> None:
    assert server_spec("python -m mcp_server_time").name == "mcp_server_time"
    http = server_spec({"url": "http://127.0.0.1:9/mcp", "token": "secret-token-123456"}, "remote")
    assert http.transport == "http" and http.headers["Authorization"] == "Bearer secret-token-123456"
    assert "secret" not in repr(http)
    with pytest.raises(ConfigError, match="neither 'command' nor 'url'"):
        server_spec({"args": ["x"]})
    with pytest.raises(ConfigError, match="MY_TOKEN"):
        server_spec({"url": "http://127.0.0.1:9/mcp", "token_env": "MY_TOKEN"})


def test_summary_reports_status_latency_and_schemas() -> None:
    from kaizen_lab.mcp import summary

    conn = connect(CALC_SERVER)
    conn.call("add", {"a": 1, "b": 2})
    servers = summary()["servers"]
    entry = next(s for s in servers if s["name"] == conn.name)
    assert entry["status"] == "ready" and entry["transport"] == "stdio" and entry["latency_ms"] > 0
    add = next(t for t in entry["tools"] if t["name"] == "add")
    assert add["status"] == "ok" and add["input_schema"]["required"] == ["a", "b"]
