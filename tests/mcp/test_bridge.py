"""Sessions owned by the background loop: shared by "cells" (separate tasks of a running loop), async code on
other loops, worker threads, and closed from a different task than the one that opened them."""

from __future__ import annotations

import asyncio
import json
import threading

from kaizen_lab.agents import Agent
from kaizen_lab.mcp import AgentMCPServer, connect, connections
from kaizen_lab.models.base import ModelResponse, ToolCall
from kaizen_lab.models.testing import FunctionModel
from tests.mcp.agents_app import adder
from tests.mcp.conftest import CALC_SERVER


def test_cells_share_one_session_and_close_it_from_another_task() -> None:
    async def notebook() -> None:
        # each "cell" is its own task on the kernel's running loop
        conn = await asyncio.create_task(asyncio.to_thread(connect, CALC_SERVER))
        assert await asyncio.create_task(conn.acall("add", {"a": 1, "b": 2})) == 3
        assert conn.call("multiply", {"a": 2, "b": 5}) == 10  # a sync call inside the running loop
        await asyncio.create_task(conn.aclose())
        assert conn.status == "closed" and conn not in connections()

    asyncio.run(notebook())


def test_worker_threads_share_the_pooled_session() -> None:
    conn = connect(CALC_SERVER)
    results: list[float] = []

    def worker(i: int) -> None:
        results.append(connect(CALC_SERVER).call("add", {"a": i, "b": 1}))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [1, 2, 3, 4]
    assert conn.calls == 4


def test_agent_with_mcp_tool_runs_inside_a_running_loop() -> None:
    def model(messages, info):  # noqa: ANN001, ANN202
        if messages[-1].role == "tool":
            return json.dumps({"answer": messages[-1].content})
        return ModelResponse(text="", tool_calls=(ToolCall("c1", "add", {"a": 40, "b": 2}),))

    agent = Agent("cell", "question: str -> answer: str", model=FunctionModel(model))
    agent.connect_to_mcp_servers([CALC_SERVER])

    async def cell() -> str:
        return agent.execute(question="?").answer  # sync API inside the kernel's loop

    assert asyncio.run(cell()) == "42.0"
    assert asyncio.run(agent.aexecute(question="?")).answer == "42.0"


def test_function_tools_beside_agents() -> None:
    server = AgentMCPServer([adder])

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    conn = connect(server.build(), name="mixed")
    assert {t.name for t in conn.list_tools()} == {"adder", "shout"}
    assert conn.call("shout", {"text": "hi"}) == "HI"
