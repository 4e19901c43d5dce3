"""Transparency: the tracer (events → nested spans), the run store behind it, the monitor, metrics, exporters.

Everything here only consumes the event stream (``kaizen_lab.events``); nothing reaches into agent internals
or imports Kailash. Kailash's task-manager bridge (``KaizenTaskManager``, ``trace_workflow``) lives in
``kaizen_lab.runtime.bridge``; the names below still resolve lazily from here (a forwarding address, not an
import of this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaizen_lab.tracing.spans import RunSummary, Span, Trace
from kaizen_lab.tracing.tracer import Tracer, TracingError

if TYPE_CHECKING:
    from kaizen_lab.runtime.bridge import KaizenTaskManager, trace_workflow
    from kaizen_lab.tracing.monitor import TransparencyMonitor

__all__ = ["KaizenTaskManager", "RunSummary", "Span", "Trace", "Tracer", "TracingError", "TransparencyMonitor",
           "trace_workflow"]

_LAZY = {"KaizenTaskManager": "kaizen_lab.runtime.bridge", "trace_workflow": "kaizen_lab.runtime.bridge",
         "TransparencyMonitor": "kaizen_lab.tracing.monitor"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_lab.tracing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
