"""OpenTelemetry export with the GenAI semantic conventions (optional extra ``otel``).

Each kaizen-lab span becomes an OTel span with its recorded start and end times and the same nesting. Agent
runs are ``invoke_agent {agent}``, model calls ``chat {model}``, tool calls ``execute_tool {tool}``, with the
``gen_ai.*`` attributes (operation, provider, model, token usage, finish reasons, agent and tool names);
everything else is under ``kaizen.*``. Payloads are already redacted by the tracer.
"""

from __future__ import annotations

import json
from typing import Any

from kaizen_lab.tracing.spans import Span, Trace

__all__ = ["OTelExporter", "gen_ai_attributes"]


def _install_hint() -> Exception:
    from kaizen_lab.errors import ConfigError

    return ConfigError('OpenTelemetry export needs the SDK: pip install "kaizen-lab[otel]"')


def _primitive(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def gen_ai_attributes(span: Span) -> tuple[str, dict[str, Any]]:
    """The OTel span name and attributes for a kaizen-lab span."""
    a = span.attributes
    attrs: dict[str, Any] = {"kaizen.run_id": span.run_id, "kaizen.span_id": span.span_id,
                             "kaizen.kind": span.kind, "kaizen.status": span.status}
    if span.kind == "run":
        agent = a.get("agent_id", span.name)
        attrs["kaizen.run_kind"] = a.get("run_kind", "agent")
        if a.get("run_kind") == "workflow":
            attrs["gen_ai.workflow.name"] = a.get("workflow", agent)
            return f"workflow {agent}", attrs
        attrs.update({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                      "gen_ai.agent.id": span.run_id})
        if a.get("model"):
            attrs["gen_ai.request.model"] = a["model"].split(":", 1)[-1]
        return f"invoke_agent {agent}", attrs
    if span.kind == "model":
        provider, _, model = str(a.get("model", span.name)).partition(":")
        attrs.update({"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                      "gen_ai.request.model": model or provider,
                      "gen_ai.usage.input_tokens": int(a.get("input_tokens", 0)),
                      "gen_ai.usage.output_tokens": int(a.get("output_tokens", 0)),
                      "gen_ai.response.finish_reasons": [str(a.get("finish", "stop"))],
                      "kaizen.attempt": int(a.get("attempt") or 1), "kaizen.cache_hit": bool(a.get("cache_hit"))})
        if a.get("cost") is not None:
            attrs["kaizen.cost_usd"] = float(a["cost"])
        return f"chat {model or provider}", attrs
    if span.kind == "tool":
        attrs.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": span.name,
                      "gen_ai.tool.type": "function", "kaizen.tool.source": str(a.get("source", "python"))})
        if span.inputs is not None:
            attrs["gen_ai.tool.call.arguments"] = _primitive(span.inputs)
        if span.outputs is not None:
            attrs["gen_ai.tool.call.result"] = _primitive((span.outputs or {}).get("result"))
        return f"execute_tool {span.name}", attrs
    for key in ("step", "node_id", "node_type", "cycle_id", "iteration", "label"):
        if a.get(key) is not None:
            attrs[f"kaizen.{key}"] = _primitive(a[key])
    return span.name, attrs


class OTelExporter:
    """Send finished traces to an OpenTelemetry ``TracerProvider`` (default: the global one).

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider                       # doctest: +SKIP
        >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor           # doctest: +SKIP
        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # doctest: +SKIP
        >>> memory = InMemorySpanExporter(); provider = TracerProvider()            # doctest: +SKIP
        >>> provider.add_span_processor(SimpleSpanProcessor(memory))                # doctest: +SKIP
        >>> Tracer(exporters=[OTelExporter(provider)])                              # doctest: +SKIP
    """

    def __init__(self, tracer_provider: Any = None, *, instrumentation_name: str = "kaizen_lab") -> None:
        try:
            from opentelemetry import trace as otel_trace
        except ImportError as exc:
            raise _install_hint() from exc
        self._otel = otel_trace
        provider = tracer_provider or otel_trace.get_tracer_provider()
        self._tracer = provider.get_tracer(instrumentation_name)

    def export(self, trace: Trace) -> None:
        from opentelemetry.context import Context
        from opentelemetry.trace import SpanKind, Status, StatusCode

        otel = self._otel
        started: list[tuple[Any, Span]] = []
        by_id: dict[str, Any] = {}
        for _depth, span in trace.walk():
            parent = by_id.get(span.parent_id or "")
            context = otel.set_span_in_context(parent) if parent is not None else Context()
            name, attrs = gen_ai_attributes(span)
            kind = SpanKind.CLIENT if span.kind == "model" else SpanKind.INTERNAL
            otel_span = self._tracer.start_span(name, context=context, kind=kind, attributes=attrs,
                                                start_time=int(span.start * 1e9))
            if span.status == "error":
                otel_span.set_status(Status(StatusCode.ERROR, span.error or "error"))
                otel_span.set_attribute("error.type", str(span.attributes.get("error_type") or "error"))
            elif span.status == "ok":
                otel_span.set_status(Status(StatusCode.OK))
            by_id[span.span_id] = otel_span
            started.append((otel_span, span))
        for otel_span, span in reversed(started):  # children end before their parents
            end = span.end if span.end is not None else span.start
            otel_span.end(end_time=int(end * 1e9))
