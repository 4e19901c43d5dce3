"""Resource subscriptions end to end: a kaizen-lab agent server over HTTP tells subscribed clients that a
resource changed (``server.resource_updated``); the kaizen-lab client hears it through a callback, ``wait()``
and ``async for``, on the 2025 handshake (``resources/subscribe``) and on 2026 (``subscriptions/listen``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import ConfigError, MCPError
from kaizen_lab.mcp import AgentMCPServer, MCPConnection, ResourceUpdate, connect
from kaizen_lab.mcp._subscriptions import covers
from kaizen_lab.models.testing import TestModel
from tests.mcp.conftest import TIME_SERVER

server = AgentMCPServer([Agent("echo", "q: str -> a: str", model=TestModel())], name="notes")


@server.resource("notes://today")
def today() -> str:
    return "today's note"


@server.resource("notes://other")
def other() -> str:
    return "another note"


@pytest.fixture(scope="module")
def handle() -> Iterator[Any]:
    with server.serve("http", auth=False) as served:
        yield served


@pytest.fixture(params=["legacy", "auto"])
def conn(request: pytest.FixtureRequest, handle: Any) -> Iterator[MCPConnection]:
    connection = connect(handle, shared=False, protocol=request.param)
    yield connection
    connection.close()


def test_protocol_option_picks_the_era(conn: MCPConnection) -> None:
    assert conn.protocol_version is not None
    assert (conn.protocol_version >= "2026") == (conn.policy.protocol == "auto")


def test_callback_and_wait_hear_an_update(conn: MCPConnection) -> None:
    heard: list[ResourceUpdate] = []
    sub = conn.subscribe("notes://today", heard.append)
    server.resource_updated("notes://today")
    update = sub.wait(10, after=0)
    assert update is not None and (update.uri, update.server) == ("notes://today", conn.name)
    assert heard == [update] and list(sub.updates) == [update]
    assert [(n.what, n.detail) for n in conn.notifications] == [("resource_updated", {"uri": "notes://today"})]


def test_unsubscribed_resources_are_not_heard(conn: MCPConnection) -> None:
    today_sub = conn.subscribe("notes://today")
    other_sub = conn.subscribe("notes://other")
    today_sub.unsubscribe()
    assert not today_sub.active and conn.subscriptions() == [other_sub]
    server.resource_updated("notes://today")
    server.resource_updated("notes://other")
    # one session delivers in order: once the second update is here, the first would have been too
    assert other_sub.wait(10, after=0) is not None
    assert today_sub.count == 0
    assert [n.detail["uri"] for n in conn.notifications if n.what == "resource_updated"] == ["notes://other"]


def test_async_iteration_yields_updates(conn: MCPConnection) -> None:
    async def main() -> list[str]:
        sub = await conn.asubscribe("notes://today")
        seen: list[str] = []

        async def consume() -> None:
            async for update in sub:
                seen.append(update.uri)
                if len(seen) == 2:
                    return

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # the iterator registers before the updates are sent
        await server.aresource_updated("notes://today")
        await server.aresource_updated("notes://today")
        await asyncio.wait_for(consumer, 10)
        await sub.aunsubscribe()
        return seen

    assert asyncio.run(main()) == ["notes://today", "notes://today"]


def test_closing_the_connection_ends_its_subscriptions(handle: Any) -> None:
    conn = connect(handle, shared=False)
    sub = conn.subscribe("notes://today")
    conn.close()
    assert not sub.active and sub.wait(1) is None


def test_a_server_without_subscriptions_is_refused_by_name() -> None:
    conn = connect(TIME_SERVER, name="clock", shared=False, connect_timeout=30)
    try:
        with pytest.raises(MCPError, match="offers no resource subscriptions"):
            conn.subscribe("time://now")
        assert conn.subscriptions() == []
    finally:
        conn.close()


def test_a_bad_protocol_option_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="protocol must be 'auto', 'legacy'"):
        connect(TIME_SERVER, shared=False, protocol="2025-06-18")


def test_sub_resources_belong_to_their_parent() -> None:
    assert covers("file:///data", "file:///data/a.csv") and covers("notes://today", "notes://today")
    assert not covers("file:///data", "file:///database")
