"""The notebook layer: magics, rich display, widgets and Plotly panels (the only package importing IPython,
ipywidgets and plotly; the rest of kaizen-lab reaches it through lazy imports).

``%load_ext kaizen_lab`` calls ``load_ipython_extension``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.notebook.magics import KaizenMagics
    from kaizen_lab.notebook.widgets.playground import Playground

__all__ = ["debugger", "load_ipython_extension", "playground", "show_graph", "unload_ipython_extension"]

_MAGICS: dict[int, KaizenMagics] = {}


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics, the display formatters, tab completion, short tracebacks for kaizen-lab's errors
    and (in a kernel) the comm target that the JupyterLab extension talks to."""
    from kaizen_lab.notebook.comm import open_channel, register_comm_target
    from kaizen_lab.notebook.display import register_formatters
    from kaizen_lab.notebook.magics import KaizenMagics
    from kaizen_lab.notebook.tracebacks import install as install_short_tracebacks

    magics = _MAGICS.get(id(ipython))
    if magics is None:
        magics = KaizenMagics(ipython)
        ipython.register_magics(magics)
        register_formatters(ipython)
        _add_matcher(ipython, magics)
        _MAGICS[id(ipython)] = magics
        install_short_tracebacks(ipython)
        register_comm_target(ipython, magics.tracer)  # for clients that open their own comm
    # the JupyterLab extension's diagnostics and sidebar; a comm some frontend closed comes back
    open_channel(ipython, magics.tracer)


def _add_matcher(ipython: InteractiveShell, magics: KaizenMagics) -> None:
    """Complete the magics' lines (and only them: Python keywords are not offered after ``%agent``)."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher(priority=100)
    def kaizen_magics_matcher(context: Any) -> dict[str, Any]:
        line = context.line_with_cursor
        found = magics.completions(line, context.token) if line.lstrip().startswith("%") else None
        if found is None:
            return {"completions": [], "suppress": False}
        return {"completions": [SimpleCompletion(text, type="magic argument") for text in found], "suppress": True}

    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        completer.custom_matchers.append(kaizen_magics_matcher)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Stop collecting runs, remove the formatters and the short tracebacks (the magics stay registered, as
    IPython allows)."""
    from kaizen_lab.notebook.comm import close_channel
    from kaizen_lab.notebook.display import unregister_formatters
    from kaizen_lab.notebook.tracebacks import uninstall as uninstall_short_tracebacks

    magics = _MAGICS.pop(id(ipython), None)
    if magics is not None and magics.tracer is not None:
        magics.tracer.close()
    close_channel(ipython)
    unregister_formatters(ipython)
    uninstall_short_tracebacks(ipython)
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        completer.custom_matchers[:] = [m for m in completer.custom_matchers
                                        if getattr(m, "__name__", "") != "kaizen_magics_matcher"]


def magics_for(ipython: InteractiveShell) -> KaizenMagics | None:
    """The ``KaizenMagics`` instance loaded on ``ipython`` (or ``None``)."""
    return _MAGICS.get(id(ipython))


def show_graph(workflow: Any, **options: Any) -> Any:
    """The execution graph of a workflow, agent or pattern as a Plotly figure."""
    from kaizen_lab.notebook.panels.graph import show_graph as build

    return build(workflow, **options)


def playground(agent: Agent) -> Playground:
    """A form for ``agent``'s inputs with a Run button, result card and history."""
    from kaizen_lab.notebook.widgets.playground import Playground

    return Playground(agent)


def debugger(target: Any, **inputs: Any) -> Any:
    """The step-through debugger for an agent (or a workflow) on ``inputs``."""
    from kaizen_lab.notebook.widgets.debugger import Debugger

    return Debugger(target, **inputs)
