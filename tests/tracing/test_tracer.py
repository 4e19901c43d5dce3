"""Span nesting, timings, usage and redaction for agent, tool, compiled-workflow and pattern runs."""

from __future__ import annotations

import json

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import OutputParseError
from kaizen_lab.models import FunctionModel, ScriptedModel, TestModel
from kaizen_lab.runtime import run_workflow
from kaizen_lab.store import RunStore
from kaizen_lab.tracing import Tracer
from kaizen_lab.tracing.tracer import trace_from_store

QA = "question: str -> answer: str, confidence: float"
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def shape(trace):  # (depth, kind, name) in tree order
    return [(d, s.kind, s.name) for d, s in trace.walk()]


def test_agent_run_nests_steps_and_model_call_with_consistent_timings(tracer: Tracer) -> None:
    result = Agent("qa", QA, model=TestModel()).execute(question="What is 2+2?")
    trace = tracer.get(result.run_id)
    assert shape(trace) == [(0, "run", "qa"), (1, "step", "validate_inputs"), (1, "step", "format"),
                            (1, "step", "model"), (2, "model", "test:test"), (1, "step", "parse"),
                            (1, "step", "validate_outputs")]
    root = trace.root
    assert root.status == "ok" and root.outputs == {"answer": "test answer", "confidence": 0.5}
    assert root.duration_ms == pytest.approx(result.metadata.duration_ms)
    for span in trace.spans:
        assert span.end is not None and span.end >= span.start
        if span.parent_id:
            parent = next(s for s in trace.spans if s.span_id == span.parent_id)
            assert parent.start <= span.start + 1e-6 and span.end <= parent.end + 1e-6
    steps_ms = sum(s.duration_ms for s in trace.children(root))
    assert steps_ms <= root.duration_ms
    model = trace.find(kind="model")[0]
    assert model.attributes["input_tokens"] == result.metadata.input_tokens > 0
    assert trace.run.model_calls == 1 and trace.run.input_tokens == result.metadata.input_tokens


def test_tool_run_has_a_tool_step_with_the_call_between_two_model_calls(tracer: Tracer) -> None:
    result = Agent("calc", "question -> answer", model=TestModel(), tools=[add]).execute(question="1+1?")
    trace = tracer.get(result.run_id)
    kinds = [(d, s.kind, s.name) for d, s in trace.walk() if s.kind != "step" or s.name in ("model", "tool")]
    assert kinds == [(0, "run", "calc"), (1, "step", "model"), (2, "model", "test:test"), (1, "step", "tool"),
                     (2, "tool", "add"), (1, "step", "model"), (2, "model", "test:test")]
    call = trace.find(kind="tool")[0]
    assert call.inputs == {"a": 1, "b": 1} and call.outputs == {"result": "2"} and call.status == "ok"
    assert trace.find(kind="model")[0].attributes["tool_calls"] == ["add"]
    assert trace.run.tool_calls == 1 and trace.run.model_calls == 2


def test_failed_run_records_error_and_retries(tracer: Tracer) -> None:
    agent = Agent("strict", "question -> answer: int", model=ScriptedModel(["not json", "still not", "nope"]),
                  max_retries=1)
    with pytest.raises(OutputParseError) as info:
        agent.execute(question="q")
    run_id = info.value.events[0].run_id
    trace = tracer.get(run_id)
    assert trace.run.status == "error" and trace.run.error_type == "OutputParseError"
    assert trace.run.retries == 1 and trace.root.attributes["retries"][0]["attempt"] == 2
    assert [s.status for s in trace.find(name="parse")] == ["error", "error"]


def test_compiled_agent_workflow_and_run_workflow_give_the_same_steps(tracer: Tracer) -> None:
    agent = Agent("qa", QA, model=FunctionModel(lambda m, i: {"answer": "A", "confidence": 1.0}))
    compiled = agent.run_workflow(question="x")
    direct_trace = tracer.get(agent.execute(question="x").run_id)
    compiled_trace = tracer.get(compiled.run_id)
    assert shape(compiled_trace) == shape(direct_trace)
    run = run_workflow(agent.to_workflow(), {"question": "x"})
    implicit = tracer.get(run.run_id)  # no RunStarted: the tracer opens an implicit workflow run
    assert implicit.run.kind == "workflow" and implicit.run.status == "ok"
    assert [s.name for s in implicit.spans if s.kind == "step"] == \
        ["validate_inputs", "format", "model", "parse", "validate_outputs"]
    assert implicit.run.input_tokens == compiled_trace.run.input_tokens


def test_pattern_runs_nest_their_agents_by_parent_run_id(tracer: Tracer) -> None:
    from kaizen_lab.patterns import ConsensusPattern

    voters = [Agent(f"v{i}", "question -> answer: str, confidence: float", model=TestModel()) for i in range(3)]
    ConsensusPattern(voters).run(question="q")
    pattern = next(r for r in tracer.runs() if r.kind == "pattern")
    trace = tracer.get(pattern.run_id)
    children = trace.children(trace.root)
    assert sorted(s.name for s in children if s.kind == "run") == ["v0", "v1", "v2"]
    assert {r.parent_run_id for r in trace.runs[1:]} == {pattern.run_id}
    assert {r.trace_id for r in trace.runs} == {pattern.run_id}
    assert len(trace.find(kind="model")) == 3


def test_api_key_in_inputs_never_reaches_the_store(tracer: Tracer, store: RunStore) -> None:
    result = Agent("qa", "question -> answer", model=TestModel()).execute(question=f"use {SECRET} please")
    tracer.flush()
    dumped = json.dumps([store.runs(), store.spans(), store.events(run_id=result.run_id)])
    assert SECRET not in dumped and "[REDACTED]" in dumped
    trace = tracer.get(result.run_id)
    assert trace.root.inputs == {"question": "use [REDACTED] please"}
    assert SECRET not in json.dumps(trace.to_records(), default=str) + json.dumps(trace.events, default=str)


def test_secret_under_a_secret_key_is_blanked(tracer: Tracer) -> None:
    agent = Agent("cfg", "api_key: str, question: str -> answer", model=TestModel())
    result = agent.execute(api_key="plain-looking-value-123", question="q")
    trace = tracer.get(result.run_id)
    assert trace.root.inputs["api_key"] == "[REDACTED]"
    assert "plain-looking-value-123" not in json.dumps(trace.events)


def test_trace_round_trips_through_the_store(tracer: Tracer, store: RunStore) -> None:
    result = Agent("calc", "question -> answer", model=TestModel(), tools=[add]).execute(question="q")
    live = tracer.get(result.run_id)
    tracer.flush()
    stored = trace_from_store(store, result.run_id)
    assert stored is not None
    assert shape(stored) == shape(live)
    assert [e["kind"] for e in stored.events] == [e["kind"] for e in live.events]
    finished = [e for e in stored.events if e["kind"] == "tool_called"][0]
    assert finished["arguments"] == {"a": 1, "b": 1} and finished["result_preview"] == "2"
    assert stored.run.to_dict() == live.run.to_dict()


def test_records_are_flat_and_runs_listable(tracer: Tracer) -> None:
    agent = Agent("qa", QA, model=TestModel())
    ids = [agent.execute(question=str(i)).run_id for i in range(3)]
    records = tracer.to_records(agent_id="qa")
    assert [r["run_id"] for r in records] == ids
    flat = tracer.get(ids[0]).to_records()
    assert flat[0]["depth"] == 0 and {"span_id", "parent_id", "duration_ms", "kind"} <= set(flat[0])


def test_memory_keeps_max_traces_and_the_store_keeps_the_rest(store: RunStore) -> None:
    agent = Agent("qa", QA, model=TestModel())
    with Tracer(store, max_traces=2) as tracer:
        ids = [agent.execute(question=str(i)).run_id for i in range(4)]
        tracer.flush()
        assert [r.run_id for r in tracer.runs()] == ids[2:]
        assert tracer.get(ids[0]).run.run_id == ids[0]  # rebuilt from the store


def test_stopped_tracer_records_nothing_and_unknown_runs_raise(store: RunStore) -> None:
    tracer = Tracer(store)
    run_id = Agent("qa", QA, model=TestModel()).execute(question="q").run_id
    with pytest.raises(KeyError, match="was the tracer started"):
        tracer.get(run_id)


def test_exporter_failure_is_reported_by_flush(store: RunStore) -> None:
    from kaizen_lab.tracing import TracingError

    class Broken:
        def export(self, trace):
            raise RuntimeError("disk on fire")

    tracer = Tracer(store, exporters=[Broken()]).start()
    Agent("qa", QA, model=TestModel()).execute(question="q")
    with pytest.raises(TracingError, match="Broken failed .*disk on fire"):
        tracer.stop()


def test_implicit_workflow_run_of_agent_nodes_spans_its_sub_runs(store: RunStore) -> None:
    from kailash.workflow.builder import WorkflowBuilder

    agent = Agent("qa", "question -> answer", model=TestModel())
    builder = WorkflowBuilder()
    builder.add_node_instance(agent.to_workflow_node("qa_node"), "qa_node")
    with Tracer(store) as tracer:
        run = run_workflow(builder, {"question": "q"})
    trace = tracer.get(run.run_id)  # finished by stop(): the workflow run never announced itself
    assert trace.run.kind == "workflow" and trace.run.status == "ok"
    sub = trace.runs[1]
    assert sub.parent_run_id == run.run_id and trace.run.end >= sub.end
    assert store.run(run.run_id)["status"] == "ok"


def test_quiet_implicit_run_is_finished_by_the_background_pass(store: RunStore) -> None:
    import time

    agent = Agent("qa", "question -> answer", model=TestModel())
    tracer = Tracer(store, flush_interval=0.02)
    tracer.implicit_idle_s = 0.05
    tracer.start()
    try:
        run = run_workflow(agent.to_workflow(), {"question": "q"})
        deadline = time.monotonic() + 10
        while store.run(run.run_id) is None and time.monotonic() < deadline:
            time.sleep(0.05)
            store.flush()
        assert store.run(run.run_id)["kind"] == "workflow"
    finally:
        tracer.stop()


def test_nothing_is_lost_with_recording_on_under_ten_thousand_concurrent_runs(tmp_path) -> None:
    import threading

    agent = Agent("busy", QA, model=TestModel())
    store = RunStore(tmp_path / "busy.db", max_runs=None)
    results: list = []
    lock = threading.Lock()

    def worker() -> None:  # four threads, each with 2,500 runs in flight on its own loop, 250 at a time
        out = agent.batch([{"question": f"q{i}"} for i in range(2500)], concurrency=250)
        with lock:
            results.extend(out)

    with Tracer(store, flush_interval=0.05) as tracer:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ids = {r.run_id for r in results}
    assert len(ids) == 10_000
    assert store.count_runs() == 10_000 and {r["run_id"] for r in store.runs()} == ids
    stored = store.run_events(sorted(ids))
    assert set(stored) == ids
    sample = results[::997]
    for result in sample:  # every event of the run, in order, is in its row
        assert [e.kind for e in tracer.events(result.run_id)] == [e.kind for e in result.events]
        assert trace_from_store(store, result.run_id).run.status == "ok"  # type: ignore[union-attr]
    store.close()


def test_a_finished_run_read_back_from_memory_has_the_events_it_recorded(store: RunStore) -> None:
    from kaizen_lab import events as ev

    recorded = [
        ev.RunStarted(run_id="run-typed", agent_id="qa", inputs={"q": "hi"}),
        ev.ToolCalled(run_id="run-typed", tool="camera", arguments={"zoom": 2},
                      content=({"type": "image", "bytes": 10},)),
        ev.ModelCalled(run_id="run-typed", model="test", tool_calls=("camera",)),
        ev.RunFinished(run_id="run-typed", agent_id="qa", status="ok", outputs={"a": 1}),
    ]
    with Tracer(store) as tracer:
        for event in recorded:
            ev.record(event)
        tracer.flush()
        assert tracer.events("run-typed") == recorded  # tuples come back as tuples
        assert [s.kind for s in tracer.get("run-typed").spans].count("tool") == 1
