"""``Debugger``: buttons over a ``Stepper`` plus the live execution graph and each node's inputs/outputs.

Step, Continue, Stop, Restart; breakpoints per node; the current node highlighted on the graph; a node's
inputs and outputs as collapsible JSON; edit a node's output before continuing; replay from a node.
Every button is also a method, so scripts and tests drive the widget without a browser.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w

from kaizen_lab.errors import KaizenError, UserError
from kaizen_lab.runtime.stepper import Stepper

__all__ = ["Debugger", "json_tree"]


def json_tree(label: str, value: Any, *, open_: bool = False) -> str:
    """Collapsible JSON as HTML ``<details>`` (renders everywhere; no JS needed)."""
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    return (f"<details{' open' if open_ else ''}><summary>{html.escape(label)}</summary>"
            f"<pre style='max-height:240px;overflow:auto'>{html.escape(text)}</pre></details>")


class Debugger(w.VBox):
    """Step through an agent's (or any workflow's) compiled Kailash workflow.

    Args:
        target: an ``Agent``, a ``Stepper``, or a workflow (then ``inputs`` are its flat inputs).
    """

    def __init__(self, target: Any, **inputs: Any) -> None:
        from kaizen_lab.notebook.panels.graph import live_graph

        if isinstance(target, Stepper):
            self.stepper = target
        elif hasattr(target, "signature") and hasattr(target, "to_workflow"):
            self.stepper = Stepper.for_agent(target, **inputs)
        else:
            self.stepper = Stepper(target, inputs)
        s = self.stepper
        self.buttons = {name: w.Button(description=name, layout=w.Layout(width="auto"))
                        for name in ("Step", "Continue", "Stop", "Restart")}
        for name, fn in (("Step", self.step), ("Continue", self.continue_), ("Stop", self.stop),
                         ("Restart", self.restart)):
            self.buttons[name].on_click(lambda _b, fn=fn: fn())
            self.buttons[name].add_class(f"kaizen-debug-{name.lower()}")
        self.breakpoints = w.SelectMultiple(options=s.order, value=tuple(sorted(s.breakpoints)),
                                            description="breakpoints", rows=min(len(s.order), 5))
        self.breakpoints.observe(self._breakpoints_changed, names="value")
        self.state = w.HTML("")
        self.state.add_class("kaizen-debug-state")
        self.error = w.HTML("")
        self.node_select = w.Dropdown(options=s.order, description="node")
        self.node_select.observe(lambda _c: self._render_node(), names="value")
        self.node_view = w.HTML("")
        self.editor = w.Textarea(description="output", layout=w.Layout(width="95%", height="110px"))
        self.apply_button = w.Button(description="Apply edit")
        self.apply_button.on_click(lambda _b: self.apply_edit())
        self.replay_button = w.Button(description="Replay from node")
        self.replay_button.on_click(lambda _b: self.replay_from(self.node_select.value))
        self.graph = live_graph(s, on_select=self._select)
        s.on_change(lambda _s: self.refresh())
        super().__init__([
            w.HBox(list(self.buttons.values())), self.state, self.error, self.graph,
            w.HBox([self.breakpoints, w.VBox([self.node_select, w.HBox([self.apply_button, self.replay_button])])]),
            self.node_view, self.editor,
        ])
        self.add_class("kaizen-debugger")
        s.prime()  # cycles: park the background run before its first node so it can be highlighted
        self.refresh()

    # -- commands (also the buttons) ----------------------------------------------------------------------
    def _guard(self, fn: Any, *args: Any) -> Any:
        self.error.value = ""
        try:
            return fn(*args)
        except KaizenError as exc:
            self.error.value = f"<pre style='color:#e53935'>{html.escape(f'{type(exc).__name__}: {exc}')}</pre>"
            return None

    def step(self) -> Any:
        return self._guard(self.stepper.step)

    def continue_(self) -> Any:
        return self._guard(self.stepper.continue_)

    def stop(self) -> None:
        self._guard(self.stepper.stop)

    def restart(self) -> None:
        self._guard(self.stepper.restart)

    def replay_from(self, node_id: str) -> None:
        self._guard(self.stepper.replay_from, node_id)

    def apply_edit(self) -> None:
        """Replace the selected node's outputs with the editor's JSON."""
        def apply() -> None:
            try:
                value = json.loads(self.editor.value)
            except json.JSONDecodeError as exc:
                raise UserError(f"the edited output is not valid JSON ({exc.msg} at line {exc.lineno}); "
                                "fix it and press Apply edit again") from exc
            if not isinstance(value, dict):
                raise UserError("a node's output is a JSON object ({\"name\": value, ...})")
            self.stepper.set_output(self.node_select.value, value)

        self._guard(apply)

    def _select(self, node_id: str) -> None:
        self.node_select.value = node_id

    def _breakpoints_changed(self, change: dict[str, Any]) -> None:
        self.stepper.breakpoints = set(change["new"])

    # -- rendering ----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        from kaizen_lab.notebook.panels.graph import update_graph

        s = self.stepper
        current = s.current_node
        state = "finished" if s.finished else "stopped" if s.stopped else f"next: {current}" if current else "ready"
        ran = len(s.history)
        err = f" · error: {html.escape(str(s.error))}" if s.error else ""
        self.state.value = (f"<div data-current='{html.escape(current or '')}'>"
                            f"<b>current node:</b> <code>{html.escape(current or '-')}</code> · {state} · "
                            f"{ran} node run(s){err}</div>")
        for name in ("Step", "Continue", "Stop"):
            self.buttons[name].disabled = s.done
        update_graph(self.graph, s.status(), current=current, records=s.nodes, workflow=s)
        if current and not s.done:
            self.node_select.value = current if s.nodes[current].outputs is not None or not s.history \
                else s.history[-1].node_id
        self._render_node()

    def _render_node(self) -> None:
        node_id = self.node_select.value
        if node_id is None:
            return
        rec = self.stepper.nodes[node_id]
        parts = [f"<b>{html.escape(node_id)}</b> <code>{html.escape(rec.node_type)}</code> · {rec.status}"
                 + (f" · {rec.duration_ms:.1f} ms" if rec.duration_ms else ""),
                 json_tree("inputs", {k: v for k, v in rec.inputs.items() if k != "kaizen_run_id"}),
                 json_tree("outputs", rec.outputs, open_=True)]
        if rec.error:
            parts.append(f"<pre style='color:#e53935'>{html.escape(rec.error)}</pre>")
        self.node_view.value = "".join(parts)
        self.editor.value = json.dumps(rec.outputs, indent=1, default=str) if rec.outputs is not None else ""
