"""``Debugger``: one compact pane over a ``Stepper`` — graph, controls, step history, state panel, edit + fork.

The graph (laid out by ``panels.graph.graph_geometry``) rings the node that runs next and says why the run is
paused there (``step``, ``breakpoint``, ``error``); a click on a node (or Enter/Space/B on a focused node)
toggles its breakpoint. The step history lists every node execution; selecting one shows its inputs, outputs
and the difference to the step before in the state panel, whose sections stay as the user opened them across
steps. A step's output can be edited and the run forked from there; a validation error shows under the editor.
Shortcuts: F10 step, F8 continue, Shift+F8 stop, Shift+F5 restart (also shown on the buttons).

The view is an anywidget (``debugger.js``/``debugger.css`` beside this file) styled with JupyterLab's and
VS Code's theme variables. Every control is also a method, so scripts and tests drive it without a browser.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from kaizen_lab.errors import KaizenError, UserError
from kaizen_lab.runtime.stepper import Stepper

__all__ = ["Debugger", "json_tree", "output_diff"]

_HERE = Path(__file__).parent
SHORTCUTS = {"step": "F10", "continue": "F8", "stop": "Shift+F8", "restart": "Shift+F5"}


def json_tree(label: str, value: Any, *, open_: bool = False) -> str:
    """Collapsible JSON as HTML ``<details>`` (renders everywhere; no JS needed)."""
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    return (f"<details{' open' if open_ else ''}><summary>{html.escape(label)}</summary>"
            f"<pre style='max-height:240px;overflow:auto'>{html.escape(text)}</pre></details>")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def output_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Key-level difference of two outputs: ``[{"key", "change": added|removed|changed, "before", "after"}]``."""
    a, b = dict(before or {}), dict(after or {})
    out: list[dict[str, Any]] = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            out.append({"key": key, "change": "added", "after": _plain(b[key])})
        elif key not in b:
            out.append({"key": key, "change": "removed", "before": _plain(a[key])})
        elif _plain(a[key]) != _plain(b[key]):
            out.append({"key": key, "change": "changed", "before": _plain(a[key]), "after": _plain(b[key])})
    return out


class Debugger(anywidget.AnyWidget):
    """Step through an agent's (or any workflow's) compiled Kailash workflow.

    Args:
        target: an ``Agent``, a ``Stepper``, or a workflow (then ``inputs`` are its flat inputs).
    """

    _esm = _HERE / "debugger.js"
    _css = _HERE / "debugger.css"
    view = traitlets.Dict().tag(sync=True)

    def __init__(self, target: Any, **inputs: Any) -> None:
        from kaizen_lab.notebook.panels.graph import graph_geometry

        if isinstance(target, Stepper):
            self.stepper = target
        elif hasattr(target, "signature") and hasattr(target, "to_workflow"):
            self.stepper = Stepper.for_agent(target, **inputs)
        else:
            self.stepper = Stepper(target, inputs)
        s = self.stepper
        self.title = getattr(getattr(s, "agent", None), "agent_id", None) or "workflow"
        self.geometry = graph_geometry(list(s.order), list(s.edges))
        self.reason: str | None = None
        self.error_text = ""
        self.edit_error = ""
        self.selected: int | None = None  # index into the history; None follows the latest step
        super().__init__()
        self.on_msg(self._on_message)
        s.on_change(lambda _s: self.refresh())
        s.prime()  # cycles: park the background run before its first node so it can be ringed
        self.refresh()

    # -- commands (also the buttons and keys) ---------------------------------------------------------------
    def _guard(self, fn: Any, *args: Any) -> Any:
        self.error_text = ""
        try:
            return fn(*args)
        except KaizenError as exc:
            self.error_text = f"{type(exc).__name__}: {exc}"
            self.refresh()
            return None

    def step(self) -> Any:
        self.reason, self.selected = "step", None
        return self._guard(self.stepper.step)

    def continue_(self) -> Any:
        self.selected = None
        s = self.stepper
        self.reason = "breakpoint"  # set before the steps so each redraw already says why it will stop
        record = self._guard(s.continue_)
        if not s.done and s.current_node not in s.breakpoints:
            self.reason = "step"
        self.refresh()
        return record

    def stop(self) -> None:
        self.reason = "stopped"
        self._guard(self.stepper.stop)

    def restart(self) -> None:
        self.reason, self.selected, self.edit_error = None, None, ""
        self._guard(self.stepper.restart)

    def replay_from(self, node_id: str) -> None:
        self.reason, self.selected = "replay", None
        self._guard(self.stepper.replay_from, node_id)

    def toggle_breakpoint(self, node_id: str) -> None:
        s = self.stepper
        if node_id in s.breakpoints:
            s.remove_breakpoint(node_id)
        else:
            self._guard(s.add_breakpoint, node_id)
        self.refresh()

    def select(self, index: int | None) -> None:
        """Show the ``index``-th step of the history in the state panel (``None``: follow the latest)."""
        if index is not None and not 0 <= index < len(self.stepper.history):
            raise UserError(f"no step #{index}; the history has {len(self.stepper.history)} step(s)")
        self.selected = index
        self.edit_error = ""
        self.refresh()

    def fork(self, text: str) -> bool:
        """Replace the selected step's output with the JSON ``text`` and run again from the node after it.

        A validation error is kept in ``edit_error`` (shown under the editor); returns whether it applied.
        """
        s = self.stepper
        rec = self._selected_record()
        self.edit_error = ""
        try:
            if rec is None:
                raise UserError("no step to edit yet; press Step first")
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UserError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
            if not isinstance(value, dict):
                raise UserError("a node's output is a JSON object ({\"name\": value, ...})")
            s.set_output(rec.node_id, value)
            idx = s.order.index(rec.node_id)
            if idx + 1 < len(s.order) and s.nodes[s.order[idx + 1]].status != "pending":
                s.replay_from(s.order[idx + 1])  # downstream already ran: fork from the next node
            self.reason, self.selected = "fork", None
        except KaizenError as exc:
            self.edit_error = str(exc)
            self.refresh()
            return False
        self.refresh()
        return True

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        cmd = content.get("cmd")
        if cmd == "step":
            self.step()
        elif cmd == "continue":
            self.continue_()
        elif cmd == "stop":
            self.stop()
        elif cmd == "restart":
            self.restart()
        elif cmd == "toggle" and isinstance(content.get("node"), str):
            self.toggle_breakpoint(content["node"])
        elif cmd == "select":
            index = content.get("index")
            self._guard(self.select, index if isinstance(index, int) else None)
        elif cmd == "fork":
            self.fork(str(content.get("text", "")))

    # -- the view -------------------------------------------------------------------------------------------
    def _selected_record(self) -> Any:
        history = self.stepper.history
        if not history:
            return None
        return history[self.selected if self.selected is not None else -1]

    def _ring(self) -> tuple[str | None, str | None]:
        """The node to ring and why the run waits there."""
        s = self.stepper
        if s.error is not None and s.history:
            return s.history[-1].node_id, "error"
        if s.finished:
            return None, "finished"
        if s.stopped:
            return None, "stopped"
        current = s.current_node
        if current is None:
            return None, None
        reason = self.reason if self.reason in ("step", "breakpoint", "fork", "replay") else "start"
        if current in s.breakpoints and self.reason == "breakpoint":
            reason = "breakpoint"
        return current, reason

    def refresh(self) -> None:
        s = self.stepper
        ring, reason = self._ring()
        history = [{"index": i, "node": r.node_id, "status": r.status, "ms": round(r.duration_ms, 2),
                    "iteration": r.iteration} for i, r in enumerate(s.history)]
        rec = self._selected_record()
        detail: dict[str, Any] | None = None
        if rec is not None:
            index = self.selected if self.selected is not None else len(s.history) - 1
            previous = s.history[index - 1].outputs if index > 0 else None
            detail = {"index": index, "node": rec.node_id, "type": rec.node_type, "status": rec.status,
                      "ms": round(rec.duration_ms, 2),
                      "inputs": _plain({k: v for k, v in rec.inputs.items() if k != "kaizen_run_id"}),
                      "outputs": _plain(rec.outputs), "error": rec.error,
                      "diff": output_diff(previous, rec.outputs),
                      "editable": rec.outputs is not None and not s.has_cycles,
                      "edit_text": json.dumps(_plain(rec.outputs), indent=1) if rec.outputs is not None else ""}
        self.view = {
            "title": self.title, "geometry": self.geometry, "statuses": dict(s.status()),
            "types": dict(s.node_types), "times": {n: round(r.duration_ms, 2) for n, r in s.nodes.items()},
            "current": ring, "reason": reason, "breakpoints": sorted(s.breakpoints), "history": history,
            "detail": detail, "done": s.done, "finished": s.finished, "stopped": s.stopped,
            "error": self.error_text or (f"{type(s.error).__name__}: {s.error}" if s.error else ""),
            "edit_error": self.edit_error, "shortcuts": SHORTCUTS,
        }

    # -- text for scripts, tests and plain-text front ends -----------------------------------------------------
    def status_line(self) -> str:
        ring, reason = self._ring()
        if ring:
            return f"paused before {ring} ({reason}) · {len(self.stepper.history)} step(s)"
        return f"{reason or 'ready'} · {len(self.stepper.history)} step(s)"

    def __repr__(self) -> str:
        return f"Debugger({self.title}: {self.status_line()})"
