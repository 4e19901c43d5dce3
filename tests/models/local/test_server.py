"""The OpenAI-compatible endpoint, driven by the official ``openai`` client (and httpx for the wire details)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import jsonschema
import openai
import pytest

from kaizen_lab.errors import UserError
from kaizen_lab.models.base import Message, ModelSettings, override_allow_real_requests
from kaizen_lab.models.local import LocalModel, ModelServer, serve
from kaizen_lab.models.openai import OpenAIModel

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PLACE = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
         "required": ["city", "country"]}
TOKEN = "t0ken-for-the-model-server-tests"


@pytest.fixture(scope="module")
def server(local_model: LocalModel) -> Iterator[ModelServer]:
    with serve(local_model) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=server.api_key, max_retries=0)


def test_models_lists_the_served_model(client: openai.OpenAI, local_model: LocalModel) -> None:
    listed = client.models.list()
    assert [m.id for m in listed.data] == [local_model.name]
    assert client.models.retrieve(local_model.name).owned_by == "kaizen-lab"


def test_plain_completion_matches_the_model(client: openai.OpenAI, local_model: LocalModel) -> None:
    direct = local_model.request_sync([Message("user", QUESTION[0]["content"])],
                                      settings=ModelSettings(max_tokens=24))
    reply = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=24)  # type: ignore[arg-type]
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == direct.text
    assert "Paris" in direct.text and choice.finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (direct.usage.input_tokens,
                                                                         direct.usage.output_tokens)
    assert reply.model == local_model.name and reply.id.startswith("chatcmpl-")


def test_max_tokens_ends_with_length(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="local", messages=QUESTION,  # type: ignore[arg-type]
                                           max_completion_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3


def test_streaming_joins_to_the_plain_answer(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=24)  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model="local", messages=QUESTION, max_tokens=24,  # type: ignore[arg-type]
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert len({c.id for c in chunks}) == 1


def test_stream_ends_with_done_on_the_wire(server: ModelServer) -> None:
    body = {"model": "local", "messages": QUESTION, "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{server.url}/chat/completions", json=body, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] == "length"


def test_a_client_that_leaves_mid_stream_frees_the_model(server: ModelServer, client: openai.OpenAI) -> None:
    body = {"model": "local", "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
            "max_tokens": 400, "stream": True}
    with httpx.stream("POST", f"{server.url}/chat/completions", json=body, timeout=120) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    reply = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=8)  # type: ignore[arg-type]
    assert reply.choices[0].message.content


def test_concurrent_requests_queue_and_both_answer(client: openai.OpenAI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = ["What is the capital of France?", "What is the capital of Italy?"]

    def ask(question: str) -> str:
        reply = client.chat.completions.create(model="local", max_tokens=12,  # type: ignore[arg-type]
                                               messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content or ""

    alone = [ask(q) for q in questions]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(ask, questions))
    assert together == alone and "Paris" in alone[0] and "Rome" in alone[1]


def test_json_schema_answers_validate(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Where is the Eiffel Tower?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": PLACE, "strict": True}})
    value = json.loads(reply.choices[0].message.content or "")
    jsonschema.validate(value, PLACE)


def test_json_schema_streams_too(client: openai.OpenAI) -> None:
    chunks = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Where is the Colosseum?"}], stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": PLACE}})
    jsonschema.validate(json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices)), PLACE)


def test_json_object_is_an_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Describe a cat as JSON."}], max_tokens=60,
        response_format={"type": "json_object"})
    assert reply.choices[0].finish_reason == "length" or isinstance(json.loads(reply.choices[0].message.content
                                                                               or ""), dict)
    assert (reply.choices[0].message.content or "").startswith("{")


def test_logprobs_cover_the_answer(client: openai.OpenAI, local_model: LocalModel) -> None:
    reply = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=24,  # type: ignore[arg-type]
                                           logprobs=True, top_logprobs=3)
    choice = reply.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    assert b"".join(bytes(t.bytes or []) for t in tokens).decode() == choice.message.content
    for t in tokens:
        assert t.logprob <= 0.0 and len(t.top_logprobs) == 3
        # greedy decoding: the chosen token is the most likely one
        assert t.top_logprobs[0].token == t.token and t.top_logprobs[0].logprob == pytest.approx(t.logprob)
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob
    direct = local_model.request_sync([Message("user", QUESTION[0]["content"])],
                                      settings=ModelSettings(max_tokens=24))
    assert direct.logprobs is not None
    assert [t.logprob for t in tokens] == pytest.approx([t.logprob for t in direct.logprobs], abs=1e-4)


def test_logprobs_stream_with_their_tokens(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="local", messages=QUESTION, max_tokens=12,  # type: ignore[arg-type]
                                                 logprobs=True, stream=True))
    scored = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content or []]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert scored and "".join(t.token for t in scored) == text
    assert all(t.top_logprobs == [] for t in scored)  # none were asked for


def test_logprobs_stream_while_the_answer_is_generated(client: openai.OpenAI, local_model: LocalModel) -> None:
    # The first scored chunk must arrive while the model is still answering, not once the answer is done (the
    # endpoint once read the tokenizer through a call that waited for the model's busy thread).
    engine = local_model.load(warm=False)
    stream = client.chat.completions.create(model="local", max_tokens=64, logprobs=True, stream=True,  # type: ignore[call-overload]
                                            messages=[{"role": "user", "content": "Write a long story about a cat."}])
    running_at_first_token = None
    for chunk in stream:
        if running_at_first_token is None and chunk.choices and chunk.choices[0].logprobs:
            running_at_first_token = engine._run_lock.locked()
    assert running_at_first_token is True


def test_without_logprobs_none_are_sent(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=4)  # type: ignore[arg-type]
    assert reply.choices[0].logprobs is None


def test_seeded_sampling_repeats_and_stop_cuts(client: openai.OpenAI) -> None:
    def ask(seed: int) -> str:
        reply = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=16,  # type: ignore[arg-type]
                                               temperature=1.0, top_p=0.9, seed=seed)
        return reply.choices[0].message.content or ""

    assert ask(7) == ask(7)
    cut = client.chat.completions.create(model="local", messages=QUESTION, max_tokens=24, stop=["Paris"])  # type: ignore[arg-type]
    assert cut.choices[0].message.content == "The capital of France is "
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(("extra", "param"), [
    ({"n": 2}, "n"),
    ({"max_tokens": "5"}, "max_tokens"),
    ({"temperature": 3}, "temperature"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"presence_penalty": 0.5}, "presence_penalty"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}},
     "response_format"),
])
def test_bad_requests_are_400_naming_the_parameter(client: openai.OpenAI, extra: dict, param: str) -> None:  # type: ignore[type-arg]
    body = {"messages": QUESTION, **extra}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="local", **body)
    assert err.value.status_code == 400
    assert err.value.param is not None and err.value.param.startswith(param)
    assert isinstance(err.value.body, dict) and err.value.body["type"] == "invalid_request_error"
    assert err.value.body["message"]


def test_unknown_model_is_404(client: openai.OpenAI, local_model: LocalModel) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)  # type: ignore[arg-type]
    assert err.value.code == "model_not_found" and local_model.name in err.value.message


def test_timeouts_are_504(local_model: LocalModel) -> None:
    with serve(local_model, timeout=0.0) as hurried:
        answer = httpx.post(f"{hurried.url}/chat/completions", json={"model": "local", "messages": QUESTION},
                            timeout=60)
    assert answer.status_code == 504
    assert answer.json()["error"]["code"] == "timeout"
    with serve(local_model, timeout=0.0) as hurried:
        streamed = httpx.post(f"{hurried.url}/chat/completions", timeout=60,
                              json={"model": "local", "messages": QUESTION, "stream": True})
    # nothing was streamed yet, so the failure is a plain HTTP error rather than an event
    assert streamed.status_code == 504 and streamed.headers["content-type"] == "application/json"


class _FailsMidAnswer(LocalModel):
    """Generates one step, then the engine fails."""

    def _steps(self, loaded, prompt, options, cancel):  # type: ignore[no-untyped-def]
        steps = super()._steps(loaded, prompt, options, cancel)
        yield next(steps)
        steps.close()
        raise RuntimeError("the engine broke")


def test_a_failure_mid_stream_reaches_the_client_as_an_error(local_model: LocalModel) -> None:
    with serve(_FailsMidAnswer(path=local_model.path, backend="numpy")) as failing:
        client = openai.OpenAI(base_url=failing.url, api_key=failing.api_key, max_retries=0)
        received = []
        with pytest.raises(openai.APIError, match="the engine broke"):
            for chunk in client.chat.completions.create(model="local", messages=QUESTION, stream=True):  # type: ignore[arg-type]
                received.append(chunk)
        assert received and received[0].choices[0].delta.role == "assistant"
        plain = httpx.post(f"{failing.url}/chat/completions", json={"model": "local", "messages": QUESTION})
        assert plain.status_code == 500 and plain.json()["error"]["type"] == "server_error"
    reply = local_model.request_sync([Message("user", "What is the capital of Italy?")],
                                     settings=ModelSettings(max_tokens=8))
    assert "Rome" in reply.text  # the engine was released


def test_openai_model_uses_it_as_base_url(server: ModelServer) -> None:
    model = OpenAIModel("local", base_url=server.url)
    with override_allow_real_requests(True):
        reply = model.request_sync([Message("user", "What is the capital of France?")],
                                   settings=ModelSettings(max_tokens=16))
        structured = model.request_sync([Message("user", "Where is the Eiffel Tower?")], output_schema=PLACE)
    assert "Paris" in reply.text and reply.usage.input_tokens > 0
    jsonschema.validate(json.loads(structured.text), PLACE)


# -- security and limits ------------------------------------------------------------------------------------


def test_off_loopback_needs_a_token(local_model: LocalModel) -> None:
    with pytest.raises(UserError, match="token"):
        serve(local_model, host="0.0.0.0")
    with pytest.raises(UserError, match="16 characters"):
        serve(local_model, token="short")
    with pytest.raises(UserError, match="only the embedded model"):
        serve("openai:gpt-4o-mini")


def test_a_token_is_required_and_checked(local_model: LocalModel) -> None:
    with serve(local_model, host="0.0.0.0", token=TOKEN) as guarded:
        url = f"http://127.0.0.1:{guarded.url.rsplit(':', 1)[1]}"
        assert httpx.get(f"{url}/models").status_code == 401
        wrong = httpx.get(f"{url}/models", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        good = openai.OpenAI(base_url=url, api_key=TOKEN, max_retries=0)
        assert [m.id for m in good.models.list().data] == [local_model.name]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="not-the-token-at-all", max_retries=0).models.list()


def test_bodies_are_limited(local_model: LocalModel) -> None:
    with serve(local_model, max_body=2048) as small:
        big = {"model": "local", "messages": [{"role": "user", "content": "x" * 4096}]}
        too_big = httpx.post(f"{small.url}/chat/completions", json=big)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
        deep = httpx.post(f"{small.url}/chat/completions", content=b"[" * 200 + b"]" * 200,
                          headers={"content-type": "application/json"})
        assert deep.status_code == 400 and "nests deeper" in deep.json()["error"]["message"]


def test_without_a_token_only_json_from_loopback_names(server: ModelServer) -> None:
    form = httpx.post(f"{server.url}/chat/completions", content=b'{"model": "local"}',
                      headers={"content-type": "text/plain"})
    assert form.status_code == 415  # a web page can post text/plain cross-origin, not application/json
    rebound = httpx.get(f"{server.url}/models", headers={"host": "attacker.example:8080"})
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "host_not_allowed"
    missing = httpx.get(server.url.replace("/v1", "/nowhere"))
    assert missing.status_code == 404 and "/v1/chat/completions" in missing.json()["error"]["message"]
    wrong_method = httpx.get(f"{server.url}/chat/completions")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["type"] == "invalid_request_error"


def test_cli_refuses_a_public_host_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAIZEN_MODEL_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "kaizen_lab.cli", "model", "serve", "--host", "0.0.0.0"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "reachable from the network" in done.stderr and "token" in done.stderr


def test_cli_serves_until_stopped(model_path: str) -> None:
    env = {**os.environ, "KAIZEN_LOCAL_BACKEND": "numpy"}
    proc = subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "model", "serve", "--port", "0",
                             "--model", f"local:{model_path}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["base_url"].startswith("http://127.0.0.1:") and started["auth"] is False
        listed = httpx.get(f"{started['base_url']}/models", timeout=30).json()
        assert listed["data"][0]["id"] == started["model"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
