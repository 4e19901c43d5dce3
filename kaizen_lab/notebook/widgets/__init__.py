"""Notebook widgets (standard ipywidgets): the playground and the step-through debugger."""

from kaizen_lab.notebook.widgets.debugger import Debugger
from kaizen_lab.notebook.widgets.playground import Playground

__all__ = ["Debugger", "Playground"]
