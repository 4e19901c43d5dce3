"""``Playground``: a form generated from an agent's signature, a Run button, the result card and a history.

Standard ipywidgets only (JupyterLab 4, Notebook 7 and VS Code render them with no extra build). A failed run
shows its error above the form; the values typed stay in place.
"""

from __future__ import annotations

import html
import json
import typing
import warnings
from typing import Any

import ipywidgets as w

from kaizen_lab.errors import KaizenError, UserError

__all__ = ["Playground", "field_widget"]

_LONG_TEXT = {"text", "document", "context", "content", "passage", "article", "body", "transcript"}


def field_widget(f: Any) -> w.Widget:
    """The input widget for one signature field (Text/Textarea, numeric, Checkbox, Dropdown, JSON editor)."""
    from kaizen_lab.models.testing import example_from_schema

    tp = f.annotation
    optional = type(None) in typing.get_args(tp)
    if optional:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    default = None if f.required else f.default
    desc = f.name
    style = {"description_width": "initial"}
    layout = w.Layout(width="95%")
    if typing.get_origin(tp) is typing.Literal:
        options = list(typing.get_args(tp))
        return w.Dropdown(options=options, value=default if default in options else options[0], description=desc,
                          style=style)
    if tp is bool:
        return w.Checkbox(value=bool(default), description=desc, indent=False)
    if tp is int:
        return w.IntText(value=int(default or 0), description=desc, style=style)
    if tp is float:
        return w.FloatText(value=float(default or 0.0), description=desc, style=style)
    if tp is str or tp is typing.Any:
        value = "" if default is None else str(default)
        if f.name in _LONG_TEXT:
            return w.Textarea(value=value, description=desc, placeholder=f.description, style=style, layout=layout)
        return w.Text(value=value, description=desc, placeholder=f.description, style=style, layout=layout)
    # structured types: a JSON editor primed with a schema-valid example
    try:
        from pydantic import TypeAdapter

        example = default if default is not None else example_from_schema(TypeAdapter(tp).json_schema())
    except Exception:  # noqa: BLE001 - an example is a convenience; an empty editor is fine
        example = default
    editor = w.Textarea(value=json.dumps(example, indent=1, default=str), description=f"{desc} (JSON)",
                        style=style, layout=w.Layout(width="95%", height="90px"))
    editor.add_class("kaizen-json")
    return editor


class Playground(w.VBox):
    """Try an agent: fill in the inputs, press Run, read the result card; earlier runs stay listed below."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        sig = agent.signature
        self.fields = {f.name: f for f in sig.input_fields}
        self.inputs: dict[str, w.Widget] = {name: field_widget(f) for name, f in self.fields.items()}
        self.run_button = w.Button(description="Run", button_style="primary", icon="play",
                                   tooltip="Run the agent (Enter in a text field)")
        self.run_button.add_class("kaizen-run")
        self.status = w.HTML("")
        self.error = w.HTML("")
        self.error.add_class("kaizen-playground-error")
        self.result = w.HTML("")
        self.result.add_class("kaizen-playground-result")
        self.history_box = w.HTML("")
        self.history: list[dict[str, Any]] = []
        self.last_result: Any = None
        self.run_button.on_click(lambda _b: self.run())
        for widget in self.inputs.values():
            if isinstance(widget, w.Text):  # Enter in a one-line field runs the playground
                with warnings.catch_warnings():  # on_submit is the one hook for Enter; its notice is noise here
                    warnings.simplefilter("ignore", DeprecationWarning)
                    widget.on_submit(lambda _w: self.run())
        title = w.HTML(f"<b>{html.escape(agent.agent_id)}</b> <code>{html.escape(str(sig))}</code>")
        super().__init__([title, self.error, *self.inputs.values(), w.HBox([self.run_button, self.status]),
                          self.result, self.history_box])
        self.add_class("kaizen-playground")

    def values(self) -> dict[str, Any]:
        """The form's values, JSON fields decoded (raises ``UserError`` naming a field with bad JSON)."""
        out: dict[str, Any] = {}
        for name, widget in self.inputs.items():
            value = widget.value
            if "kaizen-json" in widget._dom_classes:
                try:
                    value = json.loads(value) if value.strip() else None
                except json.JSONDecodeError as exc:
                    raise UserError(f"field {name!r} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                                    f"column {exc.colno}); fix the text in the {name} box") from exc
            out[name] = value
        return out

    def set_values(self, **values: Any) -> None:
        for name, value in values.items():
            if name not in self.inputs:
                raise UserError(f"the form has no field {name!r}; fields are {list(self.inputs)}")
            widget = self.inputs[name]
            widget.value = json.dumps(value) if "kaizen-json" in widget._dom_classes else value

    def run(self) -> Any:
        """Run the agent on the form's values; show the result card or the error. Returns the result."""
        self.error.value = ""
        self.status.value = "<i>running…</i>"
        self.run_button.disabled = True
        try:
            values = self.values()
            result = self.agent.execute(**values)
        except KaizenError as exc:
            self.error.value = (f"<div role='alert' style='color:var(--jp-error-color1, #c62828);border:1px solid var(--jp-error-color1, #c62828);padding:4px'><b>"
                                f"{html.escape(type(exc).__name__)}</b><pre>{html.escape(str(exc))}</pre></div>")
            self.history.append({"inputs": self._safe_values(), "error": str(exc)})
            self.status.value = "failed"
            return None
        finally:
            self.run_button.disabled = False
            self._render_history()
        self.last_result = result
        self.result.value = result._repr_mimebundle_()["text/html"]
        self.history.append({"inputs": values, "outputs": result.data, "ms": result.metadata.duration_ms})
        self.status.value = f"done in {result.metadata.duration_ms:.0f} ms"
        self._render_history()
        return result

    def _safe_values(self) -> dict[str, Any]:
        return {name: widget.value for name, widget in self.inputs.items()}

    def _render_history(self) -> None:
        items = []
        for i, h in enumerate(reversed(self.history)):
            n = len(self.history) - i
            what = (f"<span style='color:var(--jp-error-color1, #c62828)'>{html.escape(h['error'][:200])}</span>" if "error" in h
                    else html.escape(json.dumps(h["outputs"], default=str)[:200]))
            items.append(f"<li>#{n} {html.escape(json.dumps(h['inputs'], default=str)[:120])} → {what}</li>")
        self.history_box.value = f"<details><summary>history ({len(self.history)})</summary><ul>" \
                                 f"{''.join(items)}</ul></details>" if self.history else ""
