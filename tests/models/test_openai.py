"""OpenAIModel: the real ``openai`` SDK client against the local wire-format server."""

from __future__ import annotations

import asyncio
import json
import socket
import sys

import pytest

from kaizen_lab.errors import KaizenTimeoutError, ModelError, RealRequestsForbiddenError, UserError
from kaizen_lab.models.base import Message, ModelSettings, ToolCall, ToolSpec, override_allow_real_requests
from kaizen_lab.models.openai import OpenAIModel
from tests.models.wire_server import Reply, error, malformed, openai_chunks, openai_completion

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdef"
QA = [Message("system", "Answer briefly."), Message("user", "What is 2+2?")]
SCHEMA = {"title": "Answer", "type": "object", "properties": {"answer": {"type": "integer"}},
          "required": ["answer"]}
ADD = ToolSpec("add", "Add two integers.", {"type": "object", "properties": {"a": {"type": "integer"},
                                                                                 "b": {"type": "integer"}}})


def model(wire, clock=None, **kwargs) -> OpenAIModel:
    if clock is not None:
        kwargs.setdefault("retry", clock.policy())
    return OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key=KEY, **kwargs)


async def test_plain_answer_maps_messages_usage_and_cost(wire, allow_real):
    wire.script(Reply(body=openai_completion("4", usage=(1000, 500), model="gpt-4o-mini-2024-07-18")))
    response = await model(wire).request(QA)
    assert response.text == "4"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 500)
    assert response.model_name == "gpt-4o-mini-2024-07-18"
    assert response.cost == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert response.finish_reason == "stop"
    assert response.latency_ms > 0
    sent = wire.last
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [{"role": "system", "content": "Answer briefly."},
                                     {"role": "user", "content": "What is 2+2?"}]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-stainless-retry-count"] == "0"  # the SDK does not retry on its own


async def test_settings_are_sent(wire, allow_real):
    settings = ModelSettings(temperature=0.2, max_tokens=50, top_p=0.9, seed=7, stop=("END",))
    await model(wire).request(QA, settings=settings)
    body = wire.last.body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"], body["stop"]) == \
        (0.2, 50, 0.9, 7, ["END"])


async def test_default_settings_merge_under_request_settings(wire, allow_real):
    m = model(wire, settings=ModelSettings(temperature=0.0, max_tokens=10))
    await m.request(QA, settings=ModelSettings(max_tokens=99))
    assert (wire.last.body["temperature"], wire.last.body["max_tokens"]) == (0.0, 99)


async def test_unknown_model_has_no_cost(wire, allow_real):
    m = OpenAIModel("my-finetune", base_url=wire.openai_url, api_key=KEY)
    response = await m.request(QA)
    assert response.cost is None
    assert response.usage.total_tokens > 0


async def test_tool_calls_are_parsed(wire, allow_real):
    wire.script(Reply(body=openai_completion(None, tool_calls=[("add", {"a": 2, "b": 2})])))
    response = await model(wire).request(QA, tools=[ADD])
    assert response.tool_calls == (ToolCall("call_0", "add", {"a": 2, "b": 2}),)
    assert response.finish_reason == "tool_calls"
    assert response.text == ""
    assert wire.last.body["tools"] == [{"type": "function", "function": {
        "name": "add", "description": "Add two integers.", "parameters": ADD.parameters}}]


async def test_tool_results_round_trip(wire, allow_real):
    history = [*QA, Message("assistant", "", tool_calls=(ToolCall("call_0", "add", {"a": 2, "b": 2}),)),
               Message("tool", "4", tool_call_id="call_0", name="add")]
    await model(wire).request(history, tools=[ADD])
    sent = wire.last.body["messages"]
    assert sent[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'}}]}
    assert sent[3] == {"role": "tool", "tool_call_id": "call_0", "content": "4"}


async def test_tool_arguments_that_are_not_json_raise(wire, allow_real):
    wire.script(Reply(body=openai_completion(None, tool_calls=[("add", {})], raw_arguments="{a: 2")))
    with pytest.raises(ModelError, match="called tool 'add' with arguments that are not JSON") as info:
        await model(wire).request(QA, tools=[ADD])
    assert info.value.retryable is False


async def test_structured_output_sends_json_schema(wire, allow_real):
    m = model(wire)
    assert m.supports_structured_output
    response = await m.request(QA, output_schema=SCHEMA)
    assert json.loads(response.text) == {"answer": 1}  # the server answers from the schema it received
    assert wire.last.body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Answer", "schema": SCHEMA, "strict": False}}


async def test_structured_output_can_be_switched_off(wire, allow_real):
    m = model(wire, structured_output=False)
    assert not m.supports_structured_output
    await m.request(QA, output_schema=SCHEMA)
    assert "response_format" not in wire.last.body


async def test_streaming_yields_deltas(wire, allow_real):
    wire.script(Reply(events=openai_chunks(["The ", "answer ", "is 4."])))
    deltas = [d async for d in model(wire).stream(QA)]
    assert deltas == ["The ", "answer ", "is 4."]
    assert wire.last.body["stream"] is True


async def test_streaming_structured_output(wire, allow_real):
    deltas = [d async for d in model(wire).stream(QA, output_schema=SCHEMA)]
    assert json.loads("".join(deltas)) == {"answer": 1}
    assert len(deltas) == 2


async def test_429_is_retried_honouring_retry_after(wire, allow_real, clock):
    wire.script(error(429, "Rate limit reached", retry_after="3"), Reply(body=openai_completion("4")))
    response = await model(wire, clock).request(QA)
    assert response.text == "4"
    assert clock.sleeps == [3.0]
    assert len(wire.requests) == 2


async def test_retry_after_ms_header_wins(wire, allow_real, clock):
    wire.script(error(429, headers={"retry-after-ms": "250", "retry-after": "9"}), Reply(body=openai_completion()))
    await model(wire, clock).request(QA)
    assert clock.sleeps == [0.25]


async def test_500_is_retried_with_backoff_then_raises(wire, allow_real, clock):
    wire.script(*[error(500, "internal") for _ in range(4)])
    with pytest.raises(ModelError, match=r"HTTP 500: internal .*after 4 attempts") as info:
        await model(wire, clock).request(QA)
    assert clock.sleeps == [0.5, 1.0, 2.0]  # exponential, no jitter with random() == 0
    assert len(wire.requests) == 4
    err = info.value
    assert (err.provider, err.status, err.retryable) == ("openai", 500, True)
    assert err.body["message"] == "internal"


async def test_jitter_shortens_delays_within_bounds(wire, allow_real, clock):
    wire.script(error(503), error(503), Reply(body=openai_completion()))
    await model(wire, retry=clock.policy(random=lambda: 1.0, jitter=0.5)).request(QA)
    assert clock.sleeps == [0.25, 0.5]


async def test_400_is_not_retried(wire, allow_real, clock):
    wire.script(error(400, "Invalid 'messages'"))
    with pytest.raises(ModelError, match="HTTP 400: Invalid 'messages'") as info:
        await model(wire, clock).request(QA)
    assert info.value.retryable is False
    assert clock.sleeps == []


async def test_401_names_the_env_var_and_never_leaks_the_key(wire, allow_real):
    wire.script(error(401, f"Incorrect API key provided: {KEY}"))
    with pytest.raises(ModelError) as info:
        await model(wire).request(QA)
    err = info.value
    assert "OPENAI_API_KEY" in str(err)
    assert KEY not in str(err) and KEY not in json.dumps(err.body)
    assert err.__cause__ is None and err.__context__ is None  # the SDK error holds the request headers


async def test_malformed_json_raises_model_error(wire, allow_real, clock):
    wire.script(malformed())
    with pytest.raises(ModelError, match="malformed JSON") as info:
        await model(wire, clock).request(QA)
    assert info.value.retryable is False
    assert clock.sleeps == []


async def test_json_of_the_wrong_shape_raises_model_error(wire, allow_real):
    wire.script(Reply(body={"unexpected": True}))
    with pytest.raises(ModelError, match=r"without choices\[0\]\.message"):
        await model(wire).request(QA)


async def test_non_json_body_raises_model_error(wire, allow_real):
    wire.script(Reply(body="<html>gateway</html>", content_type="text/html"))
    with pytest.raises(ModelError, match="non-JSON response") as info:
        await model(wire).request(QA)
    assert info.value.body == "<html>gateway</html>"


async def test_timeout_raises_typed_error(wire, allow_real):
    wire.script(Reply(body=openai_completion("late"), delay=1.0))
    m = model(wire, max_retries=0)
    with pytest.raises(KaizenTimeoutError, match=r"timed out after 0\.2s") as info:
        await m.request(QA, settings=ModelSettings(timeout=0.2))
    assert isinstance(info.value, ModelError) and info.value.retryable


async def test_timeout_is_retried(wire, allow_real, clock):
    wire.script(Reply(body=openai_completion("late"), delay=1.0), Reply(body=openai_completion("on time")))
    response = await model(wire, clock, timeout=0.2).request(QA)
    assert response.text == "on time"
    assert clock.sleeps == [0.5]


async def test_connection_refused_is_retried_then_raises(allow_real, clock):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = OpenAIModel("m", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, retry=clock.policy(max_retries=2))
    with pytest.raises(ModelError, match="could not connect to openai") as info:
        await m.request(QA)
    assert info.value.retryable and info.value.status is None
    assert clock.sleeps == [0.5, 1.0]


async def test_error_mid_stream_raises_model_error(wire, allow_real):
    wire.script(Reply(events=[openai_chunks(["partial"])[1], "{not json"]))
    seen: list[str] = []
    with pytest.raises(ModelError, match="malformed JSON|request failed") as info:
        async for delta in model(wire).stream(QA):
            seen.append(delta)
    assert seen == ["partial"]
    assert info.value.__context__ is None


async def test_stream_open_is_retried(wire, allow_real, clock):
    wire.script(error(429, retry_after="1"), Reply(events=openai_chunks(["ok"])))
    assert [d async for d in model(wire, clock).stream(QA)] == ["ok"]
    assert clock.sleeps == [1.0]


async def test_guard_blocks_requests_when_real_requests_are_off(wire):
    m = model(wire)
    with override_allow_real_requests(False), pytest.raises(RealRequestsForbiddenError, match="ALLOW_REAL_REQUESTS"):
        await m.request(QA)
    with override_allow_real_requests(False), pytest.raises(RealRequestsForbiddenError):
        [d async for d in m.stream(QA)]
    assert wire.requests == []
    assert m.hosted


def test_missing_key_names_env_var_and_keyless_models(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY") as info:
        OpenAIModel("gpt-4o-mini")
    assert "model='local'" in str(info.value) and "model='test'" in str(info.value)
    assert "ollama:" in str(info.value)


async def test_env_vars_are_honoured(wire, allow_real, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    monkeypatch.setenv("OPENAI_BASE_URL", wire.openai_url)
    await OpenAIModel("gpt-4o").request(QA)
    assert wire.last.headers["authorization"] == "Bearer sk-from-env-0000"


async def test_local_server_needs_no_key(wire, allow_real, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    response = await OpenAIModel("llama", base_url=wire.openai_url).request(QA)
    assert response.text == "echo: What is 2+2?"


def test_missing_sdk_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(UserError, match=r'pip install "kaizen-lab\[openai\]"'):
        OpenAIModel("gpt-4o-mini", api_key=KEY)


def test_request_sync_from_plain_code_and_inside_a_loop(wire):
    m = model(wire)
    with override_allow_real_requests(True):
        assert m.request_sync(QA).text == "echo: What is 2+2?"

        async def inside() -> str:  # a running loop, as in a notebook cell
            return m.request_sync(QA).text

        assert asyncio.run(inside()) == "echo: What is 2+2?"
    assert len(wire.requests) == 2


def test_label_and_repr_hide_the_key(wire):
    m = model(wire)
    assert m.label == "openai:gpt-4o-mini"
    assert KEY not in repr(m) and wire.openai_url in repr(m)


async def test_retries_are_observable_by_the_caller(wire, allow_real, clock):
    from kaizen_lab.models._retry import observe_retries

    seen: list[tuple[int, int | None, float]] = []
    wire.script(error(429, retry_after="2"), error(502), Reply(body=openai_completion("ok")))
    with observe_retries(lambda attempt, err, delay: seen.append((attempt, err.status, delay))):
        await model(wire, clock).request(QA)
    assert seen == [(1, 429, 2.0), (2, 502, 1.0)]


async def test_one_client_per_loop_and_aclose(wire, allow_real):
    m = model(wire)
    await m.request(QA)
    client = m._client()
    await m.request(QA)
    assert m._client() is client  # reused within a loop
    await m.aclose()
    assert m._client() is not client
    assert (await m.request(QA)).text == "echo: What is 2+2?"
    await m.aclose()


def test_openai_endpoint_gets_max_completion_tokens_and_strict_schemas(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    m = OpenAIModel("gpt-5", api_key=KEY, strict=True)
    params = m._params(QA, ModelSettings(max_tokens=30), None, SCHEMA)
    assert params["max_completion_tokens"] == 30 and "max_tokens" not in params
    assert params["response_format"]["json_schema"]["strict"] is True
