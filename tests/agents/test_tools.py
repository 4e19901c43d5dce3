"""Tools from plain functions and the tool-calling loop."""

from __future__ import annotations

import pytest

from kaizen_lab.agents import Agent, tool_from_function
from kaizen_lab.errors import ToolError, UserError
from kaizen_lab.models import FunctionModel, ModelResponse, TestModel, ToolCall


def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def test_schema_and_description_come_from_annotations_and_docstring() -> None:
    t = tool_from_function(add)
    assert t.name == "add"
    assert t.description == "Add two integers."
    assert t.parameters["properties"]["a"] == {"description": "the first number", "title": "A", "type": "integer"}
    assert t.parameters["properties"]["b"]["default"] == 1
    assert t.parameters["required"] == ["a"]


async def test_arguments_are_validated_and_coerced() -> None:
    t = tool_from_function(add)
    assert await t.call({"a": "2", "b": 3}) == 5
    with pytest.raises(UserError, match="unknown argument 'c'"):
        await t.call({"a": 1, "c": 2})


def test_lambda_without_name_is_refused() -> None:
    with pytest.raises(UserError, match="lambda has no name"):
        tool_from_function(lambda x: x)


def test_test_model_calls_every_tool_once_then_answers() -> None:
    calls = []

    def lookup(city: str) -> str:
        """Look a city up."""
        calls.append(city)
        return f"{city} is big"

    agent = Agent("t", "question -> answer", model=TestModel(), tools=[add, lookup])
    result = agent.execute(question="q")
    assert result.answer == "test answer"
    assert result.metadata.tool_calls == 2
    assert calls == ["test city"]
    tool_events = [e for e in result.events if e.kind == "tool_called"]
    assert [e.tool for e in tool_events] == ["add", "lookup"]
    assert tool_events[0].result_preview == "2"


def test_tool_errors_are_fed_back_to_the_model() -> None:
    def broken(x: int) -> int:
        """Always fails."""
        raise ValueError("bad x")

    seen = []

    def fn(messages, info):
        if info.call_index == 0:
            return ModelResponse(tool_calls=(ToolCall("c1", "broken", {"x": 1}),))
        seen.append(messages[-1])
        return '{"answer": "recovered"}'

    result = Agent("t", "question -> answer", model=FunctionModel(fn), tools=[broken]).execute(question="q")
    assert result.answer == "recovered"
    assert seen[0].role == "tool" and "ValueError: bad x" in seen[0].content
    assert [e.error for e in result.events if e.kind == "tool_called"] == ["error: ValueError: bad x"]


def test_unknown_tool_requested_by_model_is_reported_back() -> None:
    def fn(messages, info):
        if info.call_index == 0:
            return ModelResponse(tool_calls=(ToolCall("c1", "nosuch", {}),))
        return {"answer": messages[-1].content}

    result = Agent("t", "question -> answer", model=FunctionModel(fn), tools=[add]).execute(question="q")
    assert "unknown tool 'nosuch'" in result.answer and "['add']" in result.answer


def test_tool_loop_limit_raises_tool_error_with_events() -> None:
    def fn(messages, info):
        return ModelResponse(tool_calls=(ToolCall(f"c{info.call_index}", "add", {"a": 1}),))

    agent = Agent("t", "question -> answer", model=FunctionModel(fn), tools=[add], max_tool_steps=3)
    with pytest.raises(ToolError, match="limit of 3 steps") as info:
        agent.execute(question="q")
    assert sum(e.kind == "tool_called" for e in info.value.events) == 3


async def test_async_tools_are_awaited() -> None:
    async def fetch(key: str) -> dict:
        """Fetch a record."""
        return {"key": key, "value": 42}

    agent = Agent("t", "question -> answer", model=TestModel(), tools=[fetch])
    result = await agent.aexecute(question="q")
    assert [e.result_preview for e in result.events if e.kind == "tool_called"] == ['{"key": "test key", "value": 42}']
