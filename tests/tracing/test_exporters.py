"""JSONL, OpenTelemetry (GenAI attribute names, via the SDK's in-memory exporter) and Prometheus exports."""

from __future__ import annotations

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.models import TestModel
from kaizen_lab.store import RunStore
from kaizen_lab.tracing import Tracer
from kaizen_lab.tracing.exporters import (
    JsonlExporter,
    OTelExporter,
    PrometheusExporter,
    export_jsonl,
    read_jsonl,
)

SECRET = "sk-abcdefghijklmnopqrstuvwxyz0123456789"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_jsonl_exporter_writes_runs_spans_events_without_secrets(tmp_path) -> None:
    path = tmp_path / "out" / "traces.jsonl"
    with Tracer(RunStore(":memory:"), exporters=[JsonlExporter(path)]) as tracer:
        result = Agent("qa", "question -> answer", model=TestModel()).execute(question=f"key {SECRET}")
    records = read_jsonl(path)
    assert SECRET not in path.read_text()
    types = [r["type"] for r in records]
    assert types.count("run") == 1 and types.count("span") == 7 and types.count("event") == 13
    run = records[0]
    assert run["run_id"] == result.run_id and run["inputs"] == {"question": "key [REDACTED]"}
    again = export_jsonl(tracer.get(result.run_id), tmp_path / "again.jsonl")
    assert len(read_jsonl(again)) == len(records)


def test_otel_spans_use_gen_ai_conventions_and_keep_nesting_and_times() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with Tracer(RunStore(":memory:"), exporters=[OTelExporter(provider)]) as tracer:
        result = Agent("calc", "question -> answer", model=TestModel(), tools=[add]).execute(question="q")
    trace = tracer.get(result.run_id)
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert len(memory.get_finished_spans()) == len(trace.spans)
    agent = spans["invoke_agent calc"]
    chat = next(s for s in memory.get_finished_spans() if s.name == "chat test")
    tool = spans["execute_tool add"]
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "calc"
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "test"
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"])
    assert tool.attributes["gen_ai.tool.name"] == "add" and tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert {s.context.trace_id for s in memory.get_finished_spans()} == {agent.context.trace_id}
    step = tool.parent
    step_span = next(s for s in memory.get_finished_spans() if s.context.span_id == step.span_id)
    assert step_span.name == "tool" and step_span.parent.span_id == agent.context.span_id
    assert agent.start_time == int(trace.root.start * 1e9) and agent.end_time == int(trace.root.end * 1e9)


def test_prometheus_text_has_runs_latency_tokens_errors() -> None:
    prom = PrometheusExporter()
    with Tracer(RunStore(":memory:"), exporters=[prom]):
        agent = Agent("qa", "question -> answer", model=TestModel(), tools=[add])
        for _ in range(3):
            agent.execute(question="q")
    text = prom.text()
    assert 'kaizen_runs_total{agent_id="qa",kind="agent",status="ok"} 3.0' in text
    assert 'kaizen_run_duration_seconds_count{agent_id="qa",kind="agent"} 3.0' in text
    assert 'kaizen_model_calls_total{cache="miss",model="test:test"} 6.0' in text
    assert 'kaizen_tool_calls_total{status="ok",tool="add"} 3.0' in text
    line = next(x for x in text.splitlines()
                if x.startswith('kaizen_tokens_total{agent_id="qa",direction="input"'))
    assert float(line.rsplit(" ", 1)[1]) > 0


def test_prometheus_counts_errors_by_type() -> None:
    from kaizen_lab.errors import OutputParseError
    from kaizen_lab.models import ScriptedModel

    prom = PrometheusExporter()
    with Tracer(RunStore(":memory:"), exporters=[prom]):
        with pytest.raises(OutputParseError):
            Agent("bad", "q -> a: int", model=ScriptedModel(["x"]), max_retries=0).execute(q="q")
    assert 'kaizen_errors_total{agent_id="bad",error_type="OutputParseError"} 1.0' in prom.text()
