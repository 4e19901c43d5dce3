"""Exporters: each has ``export(trace)`` and can be handed to ``Tracer(exporters=[...])``.

``JsonlExporter`` (a file), ``OTelExporter`` (OpenTelemetry spans with GenAI attribute names; optional extra
``otel``), ``PrometheusExporter`` (counters and histograms in the Prometheus text format).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizen_lab.tracing.exporters.jsonl import JsonlExporter, export_jsonl, read_jsonl
    from kaizen_lab.tracing.exporters.otel import OTelExporter
    from kaizen_lab.tracing.exporters.prometheus import PrometheusExporter

__all__ = ["JsonlExporter", "OTelExporter", "PrometheusExporter", "export_jsonl", "read_jsonl"]

_LAZY = {"JsonlExporter": "jsonl", "export_jsonl": "jsonl", "read_jsonl": "jsonl", "OTelExporter": "otel",
         "PrometheusExporter": "prometheus"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_lab.tracing.exporters' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"kaizen_lab.tracing.exporters.{module}"), name)
