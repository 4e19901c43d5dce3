"""Bounded waits of the embedded model: the default timeout, the up-front refusal of a prompt that cannot be read
in time, the deadline during the prompt pass and the answer, the per-value token limit, and progress (a bar and
``ModelProgress`` events on the run). No timing assertions: time is driven by tiny timeouts, forced speeds and a
fake clock."""

from __future__ import annotations

import itertools
import time
import types
from collections.abc import Iterator

import pytest

from kaizen_lab.config import LocalModelConfig
from kaizen_lab.errors import KaizenTimeoutError, PromptTooSlowError, UserError
from kaizen_lab.models.base import Message, ModelSettings
from kaizen_lab.models.local import LocalModel
from kaizen_lab.models.local._engine import PREDICTION_MARGIN

pytestmark = pytest.mark.slow

LONG = "The library opens at nine and closes at six, except on Sundays. " * 40  # ~600 tokens


def ask(question: str) -> list[Message]:
    return [Message("user", question)]


@pytest.fixture
def forced_rate(loaded) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Put the measured prompt-pass speed back after a test forces another one."""
    before = loaded.prefill_rate
    yield
    loaded.prefill_rate = before


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The engine's deadline clock jumps 100 s at every reading (perf_counter stays real)."""
    from kaizen_lab.models.local import _engine

    ticks = itertools.count(0, 100.0)
    monkeypatch.setattr(_engine, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks)),
                                                               perf_counter=time.perf_counter))
    yield


def test_the_timeout_defaults_to_the_configuration_and_is_overridden(local_model: LocalModel,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert LocalModelConfig().timeout == 120.0
    plan = local_model._prepare(ask("hi"), None, None)[2]
    assert plan["timeout"] == 120.0 and plan["options"]["timeout"] == 120.0
    monkeypatch.setenv("KAIZEN_LOCAL__TIMEOUT", "33")
    assert local_model._prepare(ask("hi"), None, None)[2]["timeout"] == 33.0
    own = LocalModel(path=local_model.path, backend="numpy", timeout=44)
    assert own._prepare(ask("hi"), None, None)[2]["timeout"] == 44.0
    assert own._prepare(ask("hi"), ModelSettings(timeout=5), None)[2]["timeout"] == 5.0
    with pytest.raises(UserError, match="timeout must be a positive"):
        LocalModel(timeout=0)


def test_warm_up_measures_the_prompt_speed(loaded) -> None:  # type: ignore[no-untyped-def]
    loaded.warm_up()  # the session's model is warmed at load; again is a no-op
    assert loaded._warm and loaded.prefill_rate is not None and loaded.prefill_rate > 0
    short, long = loaded.predict_prompt_seconds(100), loaded.predict_prompt_seconds(4000)
    assert short is not None and long is not None and long > 40 * short  # attention grows with the square


def test_a_prompt_that_cannot_be_read_in_time_is_refused_up_front(local_model: LocalModel, loaded,  # type: ignore[no-untyped-def]
                                                                  forced_rate: None) -> None:
    loaded.prefill_rate = 50.0  # ~50 tokens a second: a forced, slow machine (~14 s for this prompt)
    reported: list[tuple[int, int]] = []
    prompt = loaded.tokenizer.encode(LONG)
    with pytest.raises(PromptTooSlowError) as err:
        next(loaded.generate(prompt, max_tokens=4, timeout=5.0, on_prompt=lambda d, t: reported.append((d, t))))
    exc = err.value
    assert isinstance(exc, KaizenTimeoutError) and exc.seconds == 5.0
    assert exc.prompt_tokens == len(prompt) and exc.predicted_seconds > 5.0 * PREDICTION_MARGIN
    assert f"{len(prompt)} tokens" in str(exc) and "timeout" in str(exc) and "shorten the prompt" in str(exc)
    assert reported == []  # refused before any work
    # through the model, the same error; a generous timeout lets the same prompt through
    with pytest.raises(PromptTooSlowError, match="ModelSettings\\(timeout="):
        local_model.request_sync(ask(LONG), settings=ModelSettings(timeout=5.0, max_tokens=2))
    assert local_model.request_sync(ask(LONG), settings=ModelSettings(timeout=1e6, max_tokens=2)).usage.output_tokens


def test_without_a_measured_speed_the_first_blocks_predict_and_refuse(loaded, forced_rate: None,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.models.local import _engine, _llama

    monkeypatch.setattr(_llama, "PREFILL_CHUNK", 128)
    # the deadline clock stands still, so only the prediction (on the real clock) can stop the pass
    monkeypatch.setattr(_engine, "time", types.SimpleNamespace(monotonic=lambda: 0.0,
                                                               perf_counter=time.perf_counter))
    loaded.prefill_rate = None
    prompt = loaded.tokenizer.encode(LONG)
    reported: list[tuple[int, int]] = []
    with pytest.raises(PromptTooSlowError) as err:  # no machine reads ~600 tokens in a millisecond
        next(loaded.generate(prompt, max_tokens=4, timeout=0.001, on_prompt=lambda d, t: reported.append((d, t))))
    assert reported and reported[0][0] < len(prompt)  # stopped after the first block, not at the end
    assert err.value.predicted_seconds > 0.001 and loaded.prefill_rate is not None


def test_the_deadline_stops_the_prompt_pass(loaded, fake_clock: None,  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.models.local import _llama

    monkeypatch.setattr(_llama, "PREFILL_CHUNK", 16)
    prompt = loaded.tokenizer.encode(LONG)[:200]
    reported: list[int] = []
    # 1000 s of fake time; the clock jumps 100 s at each check, so the deadline passes inside the prompt pass
    # (the prediction at this machine's speed says it fits)
    with pytest.raises(KaizenTimeoutError, match="during the prompt pass") as err:
        next(loaded.generate(prompt, max_tokens=4, timeout=1000.0, on_prompt=lambda d, t: reported.append(d)))
    assert not isinstance(err.value, PromptTooSlowError)
    assert 0 < reported[-1] < len(prompt) and "settings.timeout" in str(err.value)


def test_the_deadline_stops_the_answer_and_keeps_the_text_so_far(loaded, fake_clock: None) -> None:  # type: ignore[no-untyped-def]
    prompt = loaded.tokenizer.encode("<|im_start|>user\nWrite a long story about a dragon.<|im_end|>\n"
                                     "<|im_start|>assistant\n")
    seen: list[str] = []
    with pytest.raises(KaizenTimeoutError, match="while answering") as err:
        for step in loaded.generate(prompt, max_tokens=100, timeout=1000.0):
            seen.append(step.text)
    assert 0 < len(seen) < 100 and err.value.partial == "".join(seen) and err.value.partial


def test_a_tiny_timeout_through_the_model_raises_and_frees_it(local_model: LocalModel) -> None:
    with pytest.raises(KaizenTimeoutError, match="timeout"):
        local_model.request_sync(ask(LONG), settings=ModelSettings(timeout=0.01, max_tokens=50))
    with pytest.raises(KaizenTimeoutError):
        async def consume() -> str:
            return "".join([d async for d in local_model.stream(ask("Write a long story about a dragon."),
                                                                settings=ModelSettings(timeout=0.01, max_tokens=300))])

        import asyncio

        asyncio.run(consume())
    assert "Paris" in local_model.request_sync(ask("What is the capital of France?")).text


def test_one_value_may_not_run_longer_than_max_field_tokens(local_model: LocalModel) -> None:
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    capped = LocalModel(path=local_model.path, backend="numpy", max_field_tokens=3)
    reply = capped.request_sync(ask("Write a long story about a dragon."), output_schema=schema)
    assert reply.finish_reason == "length" and reply.text.startswith('{"story":"')
    assert reply.usage.output_tokens <= len(capped.load(warm=False).tokenizer.encode('{"story":"')) + 3
    free = local_model.request_sync(ask("What is the capital of France? Answer in one word."),
                                    output_schema={"type": "object", "properties": {"city": {"type": "string"}},
                                                   "required": ["city"]})
    assert free.finish_reason == "stop"


def test_a_long_prompt_reports_progress_as_run_events_stored_by_the_tracer(local_model: LocalModel,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.events import ModelProgress
    from kaizen_lab.models import local as local_pkg
    from kaizen_lab.models.local import _llama
    from kaizen_lab.store import RunStore
    from kaizen_lab.tracing import Tracer
    from kaizen_lab.tracing.tracer import trace_from_store

    monkeypatch.setattr(_llama, "PREFILL_CHUNK", 64)
    monkeypatch.setattr(local_pkg, "PROGRESS_MIN_TOKENS", 64)
    agent = Agent("reader", "note, question -> answer", model=local_model)
    store = RunStore(":memory:", max_runs=None)
    try:
        with Tracer(store) as tracer:
            result = agent.run({"note": LONG[:1200], "question": "When does the library open?"})
            assert tracer.get(result.run_id) is not None  # the tracer took the new kind in its stride
        progress = [e for e in result.events if isinstance(e, ModelProgress)]
        assert len(progress) >= 3 and all(e.run_id == result.run_id and e.phase == "prompt" for e in progress)
        done = [e.done for e in progress]
        assert done == sorted(done) and done[-1] == progress[-1].total and progress[-1].eta_ms == 0.0
        trace = trace_from_store(store, result.run_id)  # read back from the database
        assert trace is not None
        stored = [e for e in trace.events if e["kind"] == "model_progress"]
        assert [e["done"] for e in stored] == done
    finally:
        store.close()


def test_the_prompt_bar_follows_kaizen_progress(loaded, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from kaizen_lab.models.local import _PromptProgress

    monkeypatch.setenv("KAIZEN_PROGRESS", "false")
    off = _PromptProgress("m", "", 1000, loaded)
    off.report(256, 1000)
    assert off.bar is not None and not off.bar.active
    off.close()
    monkeypatch.setenv("KAIZEN_PROGRESS", "true")
    on = _PromptProgress("m", "", 1000, loaded)
    on.report(256, 1000)
    assert on.bar is not None and on.bar.active
    on.report(1000, 1000)
    assert on.bar is None  # closed when the pass ends
    short = _PromptProgress("m", "", 10, loaded)
    short.report(10, 10)
    assert short.bar is None  # short prompts show nothing


def test_servers_warm_the_local_agents_and_compile_their_schemas(local_model: LocalModel, loaded) -> None:  # type: ignore[no-untyped-def]
    import json

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.models.local import warm_local_models
    from kaizen_lab.models.testing import TestModel

    local = Agent("extractor", "text -> city: str, country: str", model=local_model)
    other = Agent("echo", "question -> answer", model=TestModel())
    schema = json.dumps(local.signature.output_schema(), sort_keys=True)
    loaded._grammars.pop(schema, None)
    assert warm_local_models([local, other]) == ["extractor"]
    assert schema in loaded._grammars and loaded._warm


def test_mcp_serve_warms_a_local_agent_before_the_first_call(model_path: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    app = tmp_path / "local_app.py"
    app.write_text("from kaizen_lab.agents import Agent\n"
                   "from kaizen_lab.models.local import LocalModel\n"
                   f"reader = Agent('reader', 'question -> answer', model=LocalModel(path={model_path!r}, "
                   "backend='numpy'))\n")
    env = {**os.environ, "KAIZEN_PROGRESS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "kaizen_lab.mcp", "serve", f"{app}:reader"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines = []  # nothing is sent: the server warms up on its own, before any request
        while not any("embedded model loaded and warmed for ['reader']" in x for x in lines) and len(lines) < 20:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
        assert any("embedded model loaded and warmed for ['reader']" in x for x in lines), lines
    finally:
        proc.kill()
        proc.wait(timeout=30)
