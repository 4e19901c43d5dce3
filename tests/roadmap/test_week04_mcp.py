"""Week 4 and 7: agents as MCP servers, agents using MCP tools, discovery by capability (real servers)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from kaizen_lab import AdvancedMCPDiscovery, ConfigError, FunctionModel, Kaizen

from .conftest import question_of

ROOT = Path(__file__).resolve().parents[2]
CALC = {"command": sys.executable, "args": [str(ROOT / "examples" / "mcp_servers" / "calc_notes.py")]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_expose_as_mcp_server_on_a_port_serves_the_agents_capabilities(kaizen) -> None:  # noqa: ANN001
    from kaizen_lab.mcp import connect

    agent = kaizen.create_agent("shouter", model=FunctionModel(lambda m, i: {"answer": question_of(m).upper()}))
    assert agent.capabilities == ["shouter"]
    port = free_port()
    with agent.expose_as_mcp_server(port=port) as server:  # a port means HTTP, running, token required
        assert server.url.startswith(f"http://127.0.0.1:{port}/")
        client = connect({"url": server.url, "token": server.token}, shared=False)
        try:
            assert [t.name for t in client.list_tools()] == agent.capabilities
            assert client.call("shouter", {"question": "hello"}) == {"answer": "HELLO"}
        finally:
            client.close()


def test_connect_to_mcp_servers_binds_tools_to_the_agent(kaizen) -> None:  # noqa: ANN001
    agent = kaizen.create_agent("calculator")
    agent.connect_to_mcp_servers([[CALC["command"], *CALC["args"]]])
    assert agent.mcp_add(a=2, b=3) == 5  # the tool ran in the server process
    assert {"add", "multiply"} <= set(agent.tools.names())  # and the model is offered the tools


@pytest.mark.slow
def test_enable_mcp_tools_discovers_the_configured_server() -> None:
    kaizen = Kaizen({"default_model": "test", "mcp_integration": {"servers": {"calc": CALC}}})
    agent = kaizen.create_agent("discoverer")
    tools = agent.enable_mcp_tools(["multiply"])
    assert "multiply" in {t.name for t in tools}
    assert agent.mcp_multiply(a=4, b=2.5) == 10


def test_advanced_discovery_ranks_services_by_capability() -> None:
    config = Kaizen({"mcp_integration": {"servers": {"calc": CALC, "nothing": {"command": "/no/such/server"}}}}).config
    services = AdvancedMCPDiscovery(config.mcp_integration).discover_by_capabilities(["divide", "notes"])
    assert [s.name for s in services] == ["calc"]  # the dead server offers nothing that matches
    assert services[0].healthy and {"divide", "save_note"} <= {t.name for t in services[0].tools}
    assert AdvancedMCPDiscovery(config).discover_by_capabilities("divide")[0].name == "calc"  # KaizenConfig too
    with pytest.raises(ConfigError, match="scan_local needs the ports"):
        AdvancedMCPDiscovery(Kaizen({"mcp_integration": {"scan_local": True}}).config)
