"""Transparency: the tracer (events → nested spans), the run store behind it, the monitor, metrics, exporters.

Everything here only consumes the event stream (``kaizen_lab.events``); nothing reaches into agent internals.
Kailash is imported only by ``trace_workflow``/``KaizenTaskManager`` (``kaizen_lab.tracing.bridge``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaizen_lab.tracing.spans import RunSummary, Span, Trace
from kaizen_lab.tracing.tracer import Tracer, TracingError

if TYPE_CHECKING:
    from kaizen_lab.tracing.bridge import KaizenTaskManager, trace_workflow
    from kaizen_lab.tracing.monitor import TransparencyMonitor

__all__ = ["KaizenTaskManager", "RunSummary", "Span", "Trace", "Tracer", "TracingError", "TransparencyMonitor",
           "trace_workflow"]

_LAZY = {"KaizenTaskManager": "kaizen_lab.tracing.bridge", "trace_workflow": "kaizen_lab.tracing.bridge",
         "TransparencyMonitor": "kaizen_lab.tracing.monitor"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_lab.tracing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
