"""Agent.execute and friends: typed results, strict inputs, retries, sessions, concurrency, cancellation."""

from __future__ import annotations

import asyncio
import json

import pytest

from kaizen_lab.agents import Agent, ExecutionResult
from kaizen_lab.errors import KaizenTimeoutError, ModelError, OutputParseError, UserError
from kaizen_lab.models import FunctionModel, ModelResponse, ScriptedModel, TestModel

QA = "question: str -> answer: str, confidence: float"


def echo_model(messages, info):
    question = messages[-1].content.split(": ", 1)[1]
    return {"answer": question.upper(), "confidence": 0.75}


@pytest.fixture
def qa() -> Agent:
    return Agent("qa", QA, model=FunctionModel(echo_model))


def test_execute_returns_typed_fields_as_attributes_and_mapping(qa: Agent) -> None:
    result = qa.execute(question="paris?")
    assert result.answer == "PARIS?"
    assert result["confidence"] == 0.75
    assert dict(result) == {"answer": "PARIS?", "confidence": 0.75}
    assert result.data == {"answer": "PARIS?", "confidence": 0.75}


def test_unknown_attribute_lists_the_fields(qa: Agent) -> None:
    result = qa.execute(question="x")
    with pytest.raises(AttributeError, match=r"no field 'anwser'; its fields are \['answer', 'confidence'\]"):
        _ = result.anwser


def test_metadata_records_run_model_timings_and_usage(qa: Agent) -> None:
    meta = qa.execute(question="hello").metadata
    assert meta.agent_id == "qa"
    assert meta.model == "function:echo_model"
    assert meta.run_id.startswith("run-")
    assert set(meta.step_ms) == {"validate_inputs", "format", "model", "parse", "validate_outputs"}
    assert meta.model_calls == 1 and meta.retries == 0
    assert meta.input_tokens > 0 and meta.output_tokens > 0
    assert meta.cost is None  # unknown price is None, never 0


def test_to_dict_is_json_serialisable(qa: Agent) -> None:
    data = qa.execute(question="hi").to_dict()
    text = json.dumps(data)
    assert '"answer": "HI"' in text
    assert data["events"][0]["kind"] == "run_started" and data["events"][-1]["kind"] == "run_finished"


def test_unknown_input_names_the_field_and_a_suggestion(qa: Agent) -> None:
    with pytest.raises(UserError, match=r"unknown input 'questoin' \(did you mean 'question'\?\)"):
        qa.execute(questoin="x")


def test_missing_input_is_an_error_before_any_model_call() -> None:
    model = FunctionModel(echo_model)
    agent = Agent("qa", QA, model=model)
    with pytest.raises(UserError, match="missing input 'question'"):
        agent.execute()
    assert model.calls == 0


def test_inputs_are_coerced_to_signature_types() -> None:
    seen = {}

    def fn(messages, info):
        seen["prompt"] = messages[-1].content
        return {"total": 5}

    agent = Agent("add", "a: int, b: int -> total: int", model=FunctionModel(fn))
    result = agent.execute(a="2", b=3)
    assert result.total == 5
    assert "a: 2" in seen["prompt"]
    with pytest.raises(UserError, match="invalid input a: .*got 'two'"):
        agent.execute(a="two", b=3)


def test_unparseable_answer_is_retried_with_the_error_fed_back() -> None:
    prompts = []

    def fn(messages, info):
        prompts.append([m.content for m in messages])
        return "no json here" if info.call_index == 0 else {"answer": "ok", "confidence": 1}

    agent = Agent("qa", QA, model=FunctionModel(fn), max_retries=1)
    result = agent.execute(question="q")
    assert result.answer == "ok"
    assert result.metadata.retries == 1
    assert "could not be used: no JSON object found" in prompts[1][-1]
    assert [e.kind for e in result.events].count("retried") == 1


def test_field_marker_retry_asks_for_field_markers_not_json() -> None:
    prompts = []

    def fn(messages, info):
        prompts.append([m.content for m in messages])
        return "no markers" if info.call_index == 0 else "[[ ## answer ## ]]\nok\n[[ ## confidence ## ]]\n1"

    agent = Agent("qa", QA, model=FunctionModel(fn), max_retries=1, adapter="field_marker")
    assert agent.execute(question="q").answer == "ok"
    retry = prompts[1][-1]
    assert "could not be used: no [[ ## field ## ]] markers found" in retry
    assert "[[ ## answer ## ]]" in retry and "[[ ## confidence ## ]]" in retry and "[[ ## completed ## ]]" in retry
    assert "JSON" not in retry


def test_retries_exhausted_raise_with_raw_output_and_events() -> None:
    agent = Agent("qa", QA, model=ScriptedModel(["nope", "still nope"]), max_retries=1)
    with pytest.raises(OutputParseError) as info:
        agent.execute(question="q")
    err = info.value
    assert err.raw_output == "still nope"
    assert err.expected == ("answer", "confidence")
    kinds = [e.kind for e in err.events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("model_called") == 2
    assert err.partial["inputs"] == {"question": "q"}


def test_output_of_wrong_type_is_a_parse_error_naming_the_field() -> None:
    agent = Agent("qa", QA, model=ScriptedModel([{"answer": "a", "confidence": "high"}]), max_retries=0)
    with pytest.raises(OutputParseError, match="confidence"):
        agent.execute(question="q")


def test_provider_exception_becomes_model_error_with_events() -> None:
    agent = Agent("qa", QA, model=ScriptedModel([RuntimeError("boom")]))
    with pytest.raises(ModelError, match="RuntimeError from model scripted:scripted: boom") as info:
        agent.execute(question="q")
    assert info.value.events[-1].status == "error"


def test_timeout_raises_typed_error() -> None:
    agent = Agent("slow", QA, model=TestModel(latency=0.5), timeout=0.05)
    with pytest.raises(KaizenTimeoutError, match="did not finish within 0.05s"):
        agent.execute(question="q")


def test_session_memory_sees_earlier_turns() -> None:
    def fn(messages, info):
        said = [m.content for m in messages if m.role == "user"]
        return {"answer": " | ".join(said), "confidence": 1.0}

    agent = Agent("chat", QA, model=FunctionModel(fn), memory=True)
    agent.execute(question="I like tea", session="s1")
    second = agent.execute(question="what do I like?", session="s1")
    assert "I like tea" in second.answer
    other = agent.execute(question="fresh", session="s2")
    assert "I like tea" not in other.answer
    assert len(agent.history("s1")) == 4


def test_session_without_memory_is_rejected_by_history(qa: Agent) -> None:
    with pytest.raises(UserError, match="memory=True"):
        qa.history("s1")


def test_override_swaps_the_model_temporarily(qa: Agent) -> None:
    with qa.override(model=TestModel(custom_output={"answer": "fixed", "confidence": 0.1})):
        assert qa.execute(question="x").answer == "fixed"
    assert qa.execute(question="x").answer == "X"


def test_unknown_option_is_rejected_with_suggestion() -> None:
    with pytest.raises(UserError, match="unknown option 'max_retry' \\(did you mean 'max_retries'\\?\\)"):
        Agent("a", QA, max_retry=3)


def test_execute_works_inside_a_running_event_loop(qa: Agent) -> None:
    async def cell() -> ExecutionResult:
        return qa.execute(question="in loop")  # a notebook cell calling the sync API

    assert asyncio.run(cell()).answer == "IN LOOP"


def test_batch_keeps_order_and_reports_progress(qa: Agent) -> None:
    progress = []
    results = qa.batch([{"question": f"q{i}"} for i in range(20)], concurrency=4,
                       progress=lambda done, total: progress.append((done, total)))
    assert [r.answer for r in results] == [f"Q{i}" for i in range(20)]
    assert progress[-1] == (20, 20) and len(progress) == 20


def test_batch_can_return_exceptions_in_place(qa: Agent) -> None:
    results = qa.batch([{"question": "a"}, {"wrong": "b"}], return_exceptions=True)
    assert results[0].answer == "A"
    assert isinstance(results[1], UserError)


def test_stream_yields_events_in_order_ending_with_run_finished(qa: Agent) -> None:
    kinds = [e.kind for e in qa.stream(question="s")]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert "model_called" in kinds


def test_stream_raises_the_run_error_after_the_events() -> None:
    agent = Agent("qa", QA, model=ScriptedModel(["bad"]), max_retries=0)
    seen = []
    with pytest.raises(OutputParseError):
        for event in agent.stream(question="q"):
            seen.append(event.kind)
    assert seen[-1] == "run_finished"


@pytest.mark.slow
def test_ten_thousand_concurrent_runs_lose_and_duplicate_nothing() -> None:
    agent = Agent("qa", QA, model=FunctionModel(echo_model))

    async def main() -> list[ExecutionResult]:
        return await asyncio.gather(*(agent.aexecute(question=f"n{i}") for i in range(10_000)))

    results = asyncio.run(main())
    assert [r.answer for r in results] == [f"N{i}" for i in range(10_000)]
    assert len({r.run_id for r in results}) == 10_000


def test_cancelled_aexecute_leaves_no_dangling_tasks() -> None:
    agent = Agent("slow", QA, model=TestModel(latency=5))

    async def main() -> tuple[int, str]:
        before = len(asyncio.all_tasks())
        task = asyncio.ensure_future(agent.aexecute(question="q"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        return len(asyncio.all_tasks()) - before, "ok"

    leftover, _ = asyncio.run(main())
    assert leftover == 0


def test_cancellation_records_a_cancelled_run_finished_event() -> None:
    from kaizen_lab import events as ev

    seen = []
    remove = ev.add_listener(seen.append)
    agent = Agent("slow", QA, model=TestModel(latency=5))

    async def main() -> None:
        task = asyncio.ensure_future(agent.aexecute(question="q"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        remove()
    assert seen[-1].kind == "run_finished" and seen[-1].status == "cancelled"


def test_model_response_object_is_accepted_from_function_models() -> None:
    agent = Agent("qa", QA, model=FunctionModel(
        lambda m, i: ModelResponse(text='{"answer": "r", "confidence": 0.2}', model_name="fn")))
    assert agent.execute(question="q").answer == "r"


def test_provider_retries_are_recorded_as_retried_events() -> None:
    from kaizen_lab.models._retry import RetryPolicy, with_retries

    class Flaky(FunctionModel):
        async def request(self, messages, **kwargs):
            attempts = []

            async def call():
                attempts.append(1)
                if len(attempts) < 3:
                    raise ModelError("busy", provider="flaky", status=429, retryable=True)
                return await FunctionModel.request(self, messages, **kwargs)

            async def no_sleep(_seconds: float) -> None:
                return None

            return await with_retries(call, policy=RetryPolicy(initial_delay=0.25, jitter=0.0, sleep=no_sleep))

    agent = Agent("qa", QA, model=Flaky(echo_model))
    result = agent.execute(question="x")
    retried = [e for e in result.events if e.kind == "retried"]
    assert [e.attempt for e in retried] == [2, 3]
    assert retried[0].reason == "function:echo_model: busy; retrying in 0.25s"
    assert result.answer == "X"


def test_memory_works_with_a_custom_adapter_without_user_prompt() -> None:
    from kaizen_lab.signatures.adapters import JSONAdapter

    class Minimal:
        name = "minimal"

        def format(self, signature, inputs, demos=(), history=()):
            return JSONAdapter().format(signature, inputs, demos, history)

        def parse(self, signature, text):
            return JSONAdapter().parse(signature, text)

    seen = []

    def fn(messages, info):
        seen.append([m.content for m in messages if m.role == "user"])
        return {"answer": "ok", "confidence": 1.0}

    agent = Agent("qa", QA, model=FunctionModel(fn), memory=True, adapter=Minimal())
    agent.execute(question="first", session="s")
    agent.execute(question="second", session="s")
    assert seen[1] == ["question: first", "question: second"]


def test_model_shown_names_the_model_without_resolving_it() -> None:
    agent = Agent("qa", QA, model="openai:gpt-4o-mini")
    assert agent.model_shown == "openai:gpt-4o-mini" and "model='openai:gpt-4o-mini'" in repr(agent)
    assert Agent("qa", QA).model_shown == "default"
    tested = Agent("qa", QA, model="test")
    assert tested.model_shown == "test"  # as given, until a run (or model_label) resolves it
    assert tested.model_label == "test:test" and tested.model_shown == "test:test"
    assert "<code>test:test</code>" in tested._repr_mimebundle_()["text/html"]
