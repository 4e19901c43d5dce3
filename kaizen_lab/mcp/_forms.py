"""Answering an MCP server's questions (elicitation): a widget form in the running notebook cell, a prompt in
a terminal, or a configured policy when nobody is there.

The requested schema is a flat object of strings (optionally ``enum``/``oneOf`` with titles, ``format``),
numbers, integers, booleans and arrays of enum strings (multi-select). ``apply_defaults`` fills omitted fields
from the schema's ``default`` values (SEP-1034); ``validate_answer`` checks required fields and types.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Answer", "ElicitForm", "apply_defaults", "pending_forms", "validate_answer"]

Action = Literal["accept", "decline", "cancel"]

_pending: list[ElicitForm] = []
_pending_lock = threading.Lock()


@dataclass
class Answer:
    action: Action
    content: dict[str, Any] | None = None


def _options(prop: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of an enum property (``enum`` + ``enumNames``, or ``oneOf``/``anyOf`` const+title)."""
    if "enum" in prop:
        names = prop.get("enumNames") or prop["enum"]
        return [(str(n), str(v)) for n, v in zip(names, prop["enum"], strict=False)]
    for key in ("oneOf", "anyOf"):
        if key in prop:
            return [(str(o.get("title", o.get("const"))), str(o.get("const"))) for o in prop[key]
                    if isinstance(o, Mapping) and "const" in o]
    items = prop.get("items")
    if isinstance(items, Mapping):
        return _options(items)
    return []


def apply_defaults(schema: Mapping[str, Any], content: Mapping[str, Any] | None) -> dict[str, Any]:
    """``content`` with every omitted property that has a schema ``default`` filled in."""
    out = dict(content or {})
    for name, prop in (schema.get("properties") or {}).items():
        if name not in out and isinstance(prop, Mapping) and "default" in prop:
            out[name] = prop["default"]
    return out


def validate_answer(schema: Mapping[str, Any], content: Mapping[str, Any]) -> str | None:
    """None when ``content`` fits the schema, else what is wrong (in words a user can act on)."""
    props = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if content.get(name) in (None, "", []):
            return f"{name!r} is required"
    for name, value in content.items():
        prop = props.get(name) or {}
        kind = prop.get("type")
        if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
            return f"{name!r} must be a whole number"
        if kind == "number" and not (isinstance(value, int | float) and not isinstance(value, bool)):
            return f"{name!r} must be a number"
        if kind == "boolean" and not isinstance(value, bool):
            return f"{name!r} must be true or false"
        allowed = [v for _, v in _options(prop)]
        if allowed and kind != "array" and str(value) not in allowed:
            return f"{name!r} must be one of {allowed}"
    return None


class ElicitForm:
    """One question from a server, shown as ipywidgets; ``submit``/``decline``/``cancel`` answer it (the buttons
    call them; tests and other front ends may too). ``answer`` waits for the result on an asyncio loop."""

    def __init__(self, server: str, message: str, schema: Mapping[str, Any]) -> None:
        import ipywidgets as w

        self.server = server
        self.message = message
        self.schema = dict(schema)
        self.fields: dict[str, Any] = {}
        self._done = threading.Event()
        self.result: Answer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[Answer] | None = None
        required = set(self.schema.get("required") or ())
        rows = []
        for name, prop in (self.schema.get("properties") or {}).items():
            prop = prop if isinstance(prop, Mapping) else {}
            label = (prop.get("title") or name) + (" *" if name in required else "")
            self.fields[name] = widget = self._widget(w, prop)
            rows.append(w.HBox([w.Label(label, layout=w.Layout(width="12em")), widget]))
            if prop.get("description"):
                rows.append(w.HTML(f"<small>{_escape(str(prop['description']))}</small>"))
        self.error = w.HTML("")
        self.buttons = {action: w.Button(description=action.capitalize(), button_style=style)
                        for action, style in (("accept", "primary"), ("decline", ""), ("cancel", "warning"))}
        self.buttons["accept"].on_click(lambda _b: self.submit())
        self.buttons["decline"].on_click(lambda _b: self.decline())
        self.buttons["cancel"].on_click(lambda _b: self.cancel())
        head = w.HTML(f"<b>{_escape(server)}</b> asks: {_escape(message)}")
        self.widget = w.VBox([head, *rows, self.error, w.HBox(list(self.buttons.values()))])

    @staticmethod
    def _widget(w: Any, prop: Mapping[str, Any]) -> Any:
        kind = prop.get("type")
        default = prop.get("default")
        options = _options(prop)
        if kind == "array" and options:
            return w.SelectMultiple(options=options, value=tuple(default or ()))
        if options:
            values = [v for _, v in options]
            return w.Dropdown(options=options, value=str(default) if str(default) in values else None)
        if kind == "boolean":
            return w.Checkbox(value=bool(default))
        if kind == "integer":
            return w.IntText(value=int(default or 0))
        if kind == "number":
            return w.FloatText(value=float(default or 0))
        return w.Text(value="" if default is None else str(default))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, widget in self.fields.items():
            value = widget.value
            if isinstance(value, tuple):
                value = list(value)
            if value is None or value == "":
                continue
            out[name] = value
        return out

    def _finish(self, answer: Answer) -> None:
        self.result = answer
        for button in self.buttons.values():
            button.disabled = True
        self.error.value = f"<i>{answer.action}ed</i>" if answer.action != "cancel" else "<i>cancelled</i>"
        self._done.set()
        with _pending_lock:
            if self in _pending:
                _pending.remove(self)
        if self._loop is not None and self._future is not None:
            future = self._future
            self._loop.call_soon_threadsafe(_resolve, future, answer)

    def submit(self) -> bool:
        content = self.values()
        problem = validate_answer(self.schema, content)
        if problem:
            self.error.value = f"<span style='color:#c62828'>{_escape(problem)}</span>"
            return False
        self._finish(Answer("accept", content))
        return True

    def decline(self) -> None:
        self._finish(Answer("decline"))

    def cancel(self) -> None:
        self._finish(Answer("cancel"))

    async def answer(self) -> Answer:
        """Show nothing; wait (on the running loop) until one of the actions is taken."""
        self._loop = asyncio.get_running_loop()
        self._future = self._loop.create_future()
        with _pending_lock:
            _pending.append(self)
        if self.result is not None:
            return self.result
        try:
            return await self._future
        finally:
            with _pending_lock:
                if self in _pending:
                    _pending.remove(self)


def _resolve(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():
        future.set_result(answer)


def pending_forms() -> list[ElicitForm]:
    """Forms waiting for an answer (oldest first)."""
    with _pending_lock:
        return list(_pending)


def terminal_answer(server: str, message: str, schema: Mapping[str, Any]) -> Answer:
    """Ask on the terminal, field by field (blocking; run it in a worker thread)."""
    out = sys.stderr
    print(f"\n[{server}] {message}", file=out)
    reply = input("accept / decline / cancel [a/d/c]: ").strip().lower()
    if reply.startswith("d"):
        return Answer("decline")
    if not reply.startswith("a"):
        return Answer("cancel")
    content: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        options = _options(prop)
        hint = f" {[v for _, v in options]}" if options else ""
        default = prop.get("default")
        raw = input(f"  {prop.get('title') or name}{hint}{f' [{default}]' if default is not None else ''}: ")
        if raw == "":
            continue
        kind = prop.get("type")
        try:
            content[name] = (int(raw) if kind == "integer" else float(raw) if kind == "number" else
                             raw.lower() in ("y", "yes", "true", "1") if kind == "boolean" else
                             [v.strip() for v in raw.split(",")] if kind == "array" else raw)
        except ValueError:
            print(f"  ({name}: not a {kind}; left out)", file=out)
    return Answer("accept", apply_defaults(schema, content))


def _escape(text: str) -> str:
    import html

    return html.escape(text)

