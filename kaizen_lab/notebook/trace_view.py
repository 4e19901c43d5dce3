"""A run as a span tree (the ``%trace`` card): run → steps → model and tool calls, with durations and tokens.

``build_spans`` turns a run's events (objects or ``event_to_dict`` dicts, in order) into nested spans;
``trace_tree_html`` draws them as collapsible, indented rows with a status icon, a duration bar placed on the
run's time axis and the tokens of each step; ``trace_tree_text`` is the same tree as plain text. Styles are
inline and use JupyterLab's and VS Code's theme variables, so the card reads in light and dark themes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from kaizen_lab.notebook.theme import STATUS_ICONS

__all__ = ["build_spans", "trace_tree_html", "trace_tree_text"]

_FG = "var(--vscode-editor-foreground, var(--jp-ui-font-color1, #1f1f1f))"
_MUTED = "var(--vscode-editor-foreground, var(--jp-ui-font-color1, #1f1f1f))"
_BORDER = "var(--vscode-editorWidget-border, var(--jp-border-color1, #9e9e9e))"
_TRACK = "var(--vscode-editorWidget-background, var(--jp-layout-color2, #eeeeee))"
# bar colours by kind; bars are graphics (3:1 against both themes' backgrounds), the text beside them is not
_KIND = {"run": "#1e88e5", "step": "#00897b", "model": "#8e24aa", "tool": "#ef6c00", "retry": "#f9a825",
         "error": "#e53935"}


def _get(event: Any, name: str, default: Any = None) -> Any:
    return event.get(name, default) if isinstance(event, Mapping) else getattr(event, name, default)


def _span(kind: str, name: str, start: float, duration: float, status: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, "start": start, "duration_ms": duration, "status": status,
            "input_tokens": 0, "output_tokens": 0, "cost": None, "children": [], **extra}


def build_spans(events: Iterable[Any], run_id: str | None = None) -> dict[str, Any] | None:
    """The span tree of one run (the first ``run_started`` if ``run_id`` is not given); ``None`` if absent.

    Every span has ``kind`` (run/step/model/tool/retry), ``name``, ``start`` (ms from the run's start),
    ``duration_ms``, ``status`` (ok/error/running), tokens, ``cost`` and ``children``. Model and tool calls
    nest in the step that was open when they happened; runs whose ``parent_run_id`` is this run nest too.
    """
    events = list(events)
    runs: dict[str, dict[str, Any]] = {}
    parents: dict[str, str | None] = {}
    open_steps: dict[str, list[dict[str, Any]]] = {}
    t0: dict[str, float] = {}
    for e in events:
        kind, rid = _get(e, "kind"), _get(e, "run_id")
        ts = float(_get(e, "ts", 0.0) or 0.0) * 1000
        if kind == "run_started":
            t0[rid] = ts
            runs[rid] = _span("run", str(_get(e, "agent_id") or rid), 0.0, 0.0, "running", run_id=rid,
                              model=_get(e, "model", ""))
            parents[rid] = _get(e, "parent_run_id")
            open_steps[rid] = []
            continue
        if rid not in runs:
            continue
        run = runs[rid]
        rel = ts - t0[rid]
        stack = open_steps[rid]
        holder = stack[-1] if stack else run
        if kind == "step_started":
            step = _span("step", str(_get(e, "name") or _get(e, "step")), rel, 0.0, "running")
            holder["children"].append(step)
            stack.append(step)
        elif kind == "step_finished":
            dur = float(_get(e, "duration_ms", 0.0) or 0.0)
            name = str(_get(e, "name") or _get(e, "step"))
            found: dict[str, Any] | None = next((s for s in reversed(stack) if s["name"] == name), None)
            if found is None:  # no start seen: place it from its end time
                found = _span("step", name, rel - dur, dur, "running")
                run["children"].append(found)
            else:
                stack.remove(found)
            found.update(duration_ms=dur, status=str(_get(e, "status", "ok")), error=_get(e, "error"))
        elif kind in ("model_called", "tool_called"):
            dur = float(_get(e, "duration_ms", 0.0) or 0.0)
            status = "error" if _get(e, "error") else "ok"
            if kind == "model_called":
                span = _span("model", f"{_get(e, 'model')} (attempt {_get(e, 'attempt', 1)})", rel - dur, dur,
                             status, input_tokens=int(_get(e, "input_tokens", 0) or 0),
                             output_tokens=int(_get(e, "output_tokens", 0) or 0), cost=_get(e, "cost"),
                             cache_hit=bool(_get(e, "cache_hit")), error=_get(e, "error"))
            else:
                span = _span("tool", str(_get(e, "tool")), rel - dur, dur, status, error=_get(e, "error"))
            holder["children"].append(span)
        elif kind == "retried":
            holder["children"].append(_span("retry", f"retry {_get(e, 'attempt')}: {_get(e, 'reason')}", rel,
                                            0.0, "error"))
        elif kind == "run_finished":
            run.update(duration_ms=float(_get(e, "duration_ms", 0.0) or 0.0), status=str(_get(e, "status")),
                       error=_get(e, "error"))
    for rid, parent in parents.items():
        if parent in runs and rid != parent:
            child = runs[rid]
            shift = t0[rid] - t0[parent]
            _shift(child, shift)
            runs[parent]["children"].append(child)
    for span in runs.values():
        _roll_up(span)
    if run_id is not None:
        return runs.get(run_id)
    roots = [r for rid, r in runs.items() if parents.get(rid) not in runs]
    return roots[0] if roots else None


def _shift(span: dict[str, Any], by: float) -> None:
    span["start"] += by
    for child in span["children"]:
        _shift(child, by)


def _roll_up(span: dict[str, Any]) -> tuple[int, int]:
    """Steps and runs show the tokens of the calls inside them; a run's duration covers its children."""
    if span["kind"] in ("model",):
        return span["input_tokens"], span["output_tokens"]
    tin = tout = 0
    for child in span["children"]:
        a, b = _roll_up(child)
        tin, tout = tin + a, tout + b
    if span["kind"] in ("run", "step"):
        span["input_tokens"], span["output_tokens"] = tin, tout
        end = max([c["start"] + c["duration_ms"] for c in span["children"]], default=0.0)
        if span["duration_ms"] <= 0 and end > span["start"]:
            span["duration_ms"] = end - span["start"]
    return tin, tout


def _icon(status: str) -> str:
    return STATUS_ICONS.get({"ok": "done", "error": "failed"}.get(status, status), "•")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _row(span: dict[str, Any], total: float, depth: int) -> str:
    status = span["status"]
    colour = _KIND["error"] if status == "error" else _KIND.get(span["kind"], _KIND["run"])
    left = 100 * span["start"] / total if total > 0 else 0.0
    width = max(100 * span["duration_ms"] / total, 0.6) if total > 0 else 0.6
    left = min(max(left, 0.0), 99.4)
    width = min(width, 100 - left)
    tokens = (f"{span['input_tokens']}+{span['output_tokens']} tok" if span["input_tokens"] or span["output_tokens"]
              else "")
    if span.get("cache_hit"):
        tokens += " (cache)"
    label = (f"<span class='kz-span-icon' aria-label='{_e(status)}' title='{_e(status)}'>{_icon(status)}</span> "
             f"<b class='kz-span-name'>{_e(span['name'])}</b> "
             f"<span class='kz-span-kind' style='border:1px solid {_BORDER};border-radius:3px;padding:0 3px;"
             f"font-size:11px'>{_e(span['kind'])}</span>")
    bar = (f"<span class='kz-span-bar' style='position:relative;display:inline-block;width:clamp(60px,22%,160px);flex:none;height:10px;"
           f"background:{_TRACK};border-radius:2px;vertical-align:middle' aria-hidden='true'>"
           f"<span style='position:absolute;left:{left:.2f}%;width:{width:.2f}%;top:0;bottom:0;"
           f"background:{colour};border-radius:2px'></span></span>")
    meta = (f"<span class='kz-span-ms' style='display:inline-block;min-width:72px;text-align:right'>"
            f"{span['duration_ms']:.1f} ms</span> <span class='kz-span-tokens' style='display:inline-block;"
            f"min-width:90px'>{_e(tokens)}</span>")
    summary = (f"<summary style='cursor:pointer;display:flex;gap:8px;align-items:center;padding:1px 0;"
               f"padding-left:{depth * 18}px'><span style='flex:1 1 auto;min-width:0;overflow:hidden;"
               f"text-overflow:ellipsis;white-space:nowrap'>{label}</span>{bar}{meta}</summary>")
    error = (f"<div class='kz-span-error' role='note' style='padding-left:{depth * 18 + 22}px;"
             f"white-space:pre-wrap'>✗ {_e(span['error'])}</div>" if span.get("error") else "")
    children = "".join(_row(c, total, depth + 1) for c in span["children"])
    attrs = (f"class='kz-span' data-kind='{_e(span['kind'])}' data-status='{_e(status)}' "
             f"data-depth='{depth}' data-name='{_e(span['name'])}'")
    if not span["children"] and not error:  # a leaf: a plain row, nothing to expand
        return f"<div {attrs}>{summary.replace('<summary', '<div').replace('</summary>', '</div>')}</div>"
    return f"<details {attrs} open>{summary}{error}{children}</details>"


def trace_tree_html(run_id: str, events: Iterable[Any]) -> str:
    """The run's span tree as an HTML card (collapsible rows; a message when the run has no events yet)."""
    root = build_spans(events, run_id)
    box = (f"border:1px solid {_BORDER};border-radius:6px;padding:6px 10px;color:{_FG};"
           "font-family:var(--jp-ui-font-family, system-ui, sans-serif);font-size:13px;max-width:100%")
    if root is None:
        return (f"<div class='kaizen-trace' style='{box}'><b>run {_e(run_id)}</b>"
                f"<p class='kaizen-empty'><i>no events recorded for this run yet — run an agent first</i></p></div>")
    head = (f"<div style='display:flex;gap:10px;align-items:baseline;margin-bottom:4px;color:{_MUTED}'>"
            f"<b style='color:{_FG}'>run {_e(run_id)}</b><span data-status='{_e(root['status'])}'>"
            f"{_icon(root['status'])} {_e(root['status'])}</span><span>{root['duration_ms']:.1f} ms</span>"
            f"<span>{root['input_tokens']}+{root['output_tokens']} tokens</span></div>")
    total = max(root["duration_ms"], max((c["start"] + c["duration_ms"] for c in root["children"]), default=0.0))
    return f"<div class='kaizen-trace' style='{box}'>{head}{_row(root, total, 0)}</div>"


def trace_tree_text(run_id: str, events: Iterable[Any]) -> str:
    root = build_spans(events, run_id)
    if root is None:
        return f"run {run_id}: no events"
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        tokens = f" {span['input_tokens']}+{span['output_tokens']} tok" if span["input_tokens"] or \
            span["output_tokens"] else ""
        err = f" error: {span['error']}" if span.get("error") else ""
        lines.append(f"{'  ' * depth}{_icon(span['status'])} {span['kind']} {span['name']} "
                     f"{span['duration_ms']:.1f} ms{tokens}{err}")
        for child in span["children"]:
            walk(child, depth + 1)

    walk(root, 0)
    return "\n".join(lines)
