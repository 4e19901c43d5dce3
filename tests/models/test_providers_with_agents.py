"""An agent run end to end on each hosted provider: tool call, tool result, structured answer, usage and cost,
then the same run answered from the agent's response cache."""

from __future__ import annotations

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.models.anthropic import OUTPUT_TOOL, AnthropicModel
from kaizen_lab.models.cache import MemoryCache
from kaizen_lab.models.openai import OpenAIModel
from tests.models.wire_server import Reply, anthropic_message, openai_completion


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def openai_setup(wire):
    wire.script(Reply(body=openai_completion(None, tool_calls=[("add", {"a": 2, "b": 2})], usage=(100, 10))),
                Reply(body=openai_completion('{"answer": 4}', usage=(200, 5))))
    return OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key="sk-agent-1234"), (0.15, 0.60)


def anthropic_setup(wire):
    wire.script(Reply(body=anthropic_message(None, tool_uses=[("add", {"a": 2, "b": 2})], usage=(100, 10))),
                Reply(body=anthropic_message(None, tool_uses=[(OUTPUT_TOOL, {"answer": 4})], usage=(200, 5))))
    return AnthropicModel("claude-haiku-4-5", base_url=wire.anthropic_url, api_key="sk-agent-1234"), (1.0, 5.0)


@pytest.mark.parametrize("setup", [openai_setup, anthropic_setup], ids=["openai", "anthropic"])
def test_agent_run_with_tools_structured_output_cost_and_cache(wire, allow_real, setup):
    model, (price_in, price_out) = setup(wire)
    agent = Agent("adder", "question: str -> answer: int", model=model, tools=[add], cache=MemoryCache())
    result = agent.execute(question="What is 2+2?")
    assert result.answer == 4
    meta = result.metadata
    assert (meta.model_calls, meta.tool_calls, meta.input_tokens, meta.output_tokens) == (2, 1, 300, 15)
    assert meta.cost == pytest.approx((300 * price_in + 15 * price_out) / 1e6)
    assert len(wire.requests) == 2
    last = wire.last.body["messages"]
    assert any("tool_call_id" in m or (isinstance(m.get("content"), list) and
                                       m["content"][0].get("type") == "tool_result") for m in last)

    again = agent.execute(question="What is 2+2?")  # same prompt: both model calls come from the cache
    assert again.answer == 4
    assert again.metadata.cache_hits == 2 and again.metadata.cost == 0.0
    assert len(wire.requests) == 2
