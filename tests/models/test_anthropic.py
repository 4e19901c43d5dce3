"""AnthropicModel: the real ``anthropic`` SDK client against the local wire-format server."""

from __future__ import annotations

import json
import sys

import pytest

from kaizen_lab.errors import KaizenTimeoutError, ModelError, RealRequestsForbiddenError, UserError
from kaizen_lab.models.anthropic import OUTPUT_TOOL, AnthropicModel, to_anthropic_messages
from kaizen_lab.models.base import Message, ModelSettings, ToolCall, ToolSpec, override_allow_real_requests
from tests.models.wire_server import Reply, anthropic_events, anthropic_message, error, malformed

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-0123456789"
QA = [Message("system", "Answer briefly."), Message("user", "What is 2+2?")]
SCHEMA = {"title": "Answer", "type": "object", "properties": {"answer": {"type": "integer"}},
          "required": ["answer"]}
ADD = ToolSpec("add", "Add two integers.", {"type": "object", "properties": {"a": {"type": "integer"},
                                                                                 "b": {"type": "integer"}}})


def model(wire, clock=None, **kwargs) -> AnthropicModel:
    if clock is not None:
        kwargs.setdefault("retry", clock.policy())
    return AnthropicModel("claude-haiku-4-5", base_url=wire.anthropic_url, api_key=KEY, **kwargs)


def sent_key(headers: dict[str, str]) -> str:
    # SDK versions differ in where the key goes (x-api-key or a bearer token)
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


async def test_plain_answer_maps_system_usage_and_cost(wire, allow_real):
    wire.script(Reply(body=anthropic_message("4", usage=(2000, 100), model="claude-haiku-4-5-20251001")))
    response = await model(wire).request(QA)
    assert response.text == "4"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (2000, 100)
    assert response.cost == pytest.approx((2000 * 1.0 + 100 * 5.0) / 1e6)
    assert response.finish_reason == "stop"
    sent = wire.last
    assert sent.path == "/v1/messages"
    assert sent.body["system"] == "Answer briefly."
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}]
    assert sent.body["max_tokens"] == 4096
    assert sent_key(sent.headers) == KEY
    assert sent.headers["x-stainless-retry-count"] == "0"


async def test_settings_are_sent(wire, allow_real):
    await model(wire).request(QA, settings=ModelSettings(temperature=0.3, max_tokens=64, top_p=0.5, stop=("X",)))
    body = wire.last.body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["stop_sequences"]) == \
        (0.3, 64, 0.5, ["X"])


async def test_tool_use_is_parsed(wire, allow_real):
    wire.script(Reply(body=anthropic_message("Let me add.", tool_uses=[("add", {"a": 2, "b": 2})])))
    response = await model(wire).request(QA, tools=[ADD])
    assert response.tool_calls == (ToolCall("toolu_0", "add", {"a": 2, "b": 2}),)
    assert response.text == "Let me add."
    assert response.finish_reason == "tool_calls"
    assert wire.last.body["tools"] == [{"name": "add", "description": "Add two integers.",
                                        "input_schema": ADD.parameters}]
    assert "tool_choice" not in wire.last.body


def test_tool_results_merge_into_one_user_turn():
    calls = (ToolCall("t1", "add", {"a": 1}), ToolCall("t2", "add", {"a": 2}))
    system, wire_messages = to_anthropic_messages([
        *QA, Message("assistant", "Adding.", tool_calls=calls),
        Message("tool", "1", tool_call_id="t1"), Message("tool", "2", tool_call_id="t2")])
    assert system == "Answer briefly."
    assert wire_messages[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Adding."},
        {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}},
        {"type": "tool_use", "id": "t2", "name": "add", "input": {"a": 2}}]}
    assert wire_messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "1"},
        {"type": "tool_result", "tool_use_id": "t2", "content": "2"}]}
    assert len(wire_messages) == 3


async def test_structured_output_through_a_forced_tool(wire, allow_real):
    m = model(wire)
    assert m.supports_structured_output
    response = await m.request(QA, output_schema=SCHEMA)
    assert json.loads(response.text) == {"answer": 1}
    assert response.tool_calls == () and response.finish_reason == "stop"
    body = wire.last.body
    assert body["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}
    assert body["tools"][-1]["input_schema"] == SCHEMA


async def test_structured_output_with_tools_requires_some_tool(wire, allow_real):
    wire.script(Reply(body=anthropic_message(None, tool_uses=[("add", {"a": 1, "b": 2})])))
    response = await model(wire).request(QA, tools=[ADD], output_schema=SCHEMA)
    assert [c.name for c in response.tool_calls] == ["add"]
    assert wire.last.body["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in wire.last.body["tools"]] == ["add", OUTPUT_TOOL]


async def test_non_object_schema_is_wrapped_and_unwrapped(wire, allow_real):
    schema = {"type": "array", "items": {"type": "integer"}}
    response = await model(wire).request(QA, output_schema=schema)
    assert json.loads(response.text) == [1]
    assert wire.last.body["tools"][0]["input_schema"]["properties"]["result"] == schema


async def test_native_structured_output(wire, allow_real):
    response = await model(wire, structured_output="native").request(QA, output_schema=SCHEMA)
    assert json.loads(response.text) == {"answer": 1}
    assert wire.last.body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in wire.last.body


async def test_structured_output_none(wire, allow_real):
    m = model(wire, structured_output="none")
    assert not m.supports_structured_output
    await m.request(QA, output_schema=SCHEMA)
    assert "tools" not in wire.last.body and "output_config" not in wire.last.body


def test_bad_structured_mode_is_a_user_error():
    with pytest.raises(UserError, match="use 'tool', 'native' or 'none'"):
        AnthropicModel("claude-haiku-4-5", api_key=KEY, structured_output="json")  # type: ignore[arg-type]


async def test_streaming_yields_text_deltas(wire, allow_real):
    wire.script(Reply(events=anthropic_events(["The ", "answer ", "is 4."])))
    assert [d async for d in model(wire).stream(QA)] == ["The ", "answer ", "is 4."]
    assert wire.last.body["stream"] is True


async def test_streaming_structured_output_yields_json_pieces(wire, allow_real):
    deltas = [d async for d in model(wire).stream(QA, output_schema=SCHEMA)]
    assert len(deltas) == 2
    assert json.loads("".join(deltas)) == {"answer": 1}


async def test_429_is_retried_honouring_retry_after(wire, allow_real, clock):
    wire.script(error(429, "rate limited", retry_after="7"), Reply(body=anthropic_message("4")))
    assert (await model(wire, clock).request(QA)).text == "4"
    assert clock.sleeps == [7.0]


async def test_overloaded_529_is_retried_then_raises(wire, allow_real, clock):
    wire.script(*[error(529, "Overloaded") for _ in range(3)])
    with pytest.raises(ModelError, match=r"anthropic returned HTTP 529: Overloaded .*after 3 attempts") as info:
        await model(wire, retry=clock.policy(max_retries=2)).request(QA)
    assert clock.sleeps == [0.5, 1.0]
    assert info.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_500_then_success(wire, allow_real, clock):
    wire.script(error(500), Reply(body=anthropic_message("ok")))
    assert (await model(wire, clock).request(QA)).text == "ok"
    assert len(wire.requests) == 2


async def test_malformed_json_raises_model_error(wire, allow_real, clock):
    wire.script(malformed())
    with pytest.raises(ModelError, match="malformed JSON"):
        await model(wire, clock).request(QA)
    assert clock.sleeps == []


async def test_json_of_the_wrong_shape_raises_model_error(wire, allow_real):
    wire.script(Reply(body={"type": "message"}))
    with pytest.raises(ModelError, match="without a content list"):
        await model(wire).request(QA)


async def test_timeout(wire, allow_real):
    wire.script(Reply(body=anthropic_message("late"), delay=1.0))
    with pytest.raises(KaizenTimeoutError, match="anthropic request timed out after 0.2s"):
        await model(wire, max_retries=0, timeout=0.2).request(QA)


async def test_key_never_leaks(wire, allow_real):
    wire.script(error(401, f"invalid x-api-key {KEY}"))
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY") as info:
        await model(wire).request(QA)
    assert KEY not in str(info.value) and KEY not in json.dumps(info.value.body)


async def test_guard(wire):
    with override_allow_real_requests(False), pytest.raises(RealRequestsForbiddenError, match="'anthropic'"):
        await model(wire).request(QA)
    assert wire.requests == []


def test_missing_key(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(UserError, match="no API key for anthropic: set ANTHROPIC_API_KEY") as info:
        AnthropicModel("claude-haiku-4-5")
    assert "model='local'" in str(info.value)


async def test_env_vars_are_honoured(wire, allow_real, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-1111")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", wire.anthropic_url)
    await AnthropicModel("claude-haiku-4-5").request(QA)
    assert sent_key(wire.last.headers) == "sk-ant-env-1111"


def test_missing_sdk_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(UserError, match=r'pip install "kaizen-lab\[anthropic\]"'):
        AnthropicModel("claude-haiku-4-5", api_key=KEY)
