"""Notebook widgets (standard ipywidgets): the playground and the step-through debugger.

Each widget's module is imported on first access: the playground (and any other widget module) loads without
Kailash, which only the debugger's Stepper needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizen_lab.notebook.widgets.debugger import Debugger
    from kaizen_lab.notebook.widgets.playground import Playground

__all__ = ["Debugger", "Playground"]

_LAZY = {"Debugger": "kaizen_lab.notebook.widgets.debugger", "Playground": "kaizen_lab.notebook.widgets.playground"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_lab.notebook.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
