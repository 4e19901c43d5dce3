"""Static fallbacks: what a notebook shows where no Plotly or widget JavaScript runs.

JupyterLab, Notebook 7 and VS Code render ``application/vnd.plotly.v1+json`` and live widgets; GitHub, nbviewer,
``nbconvert --to html`` and a notebook opened without its kernel do not. ``figure_bundle`` turns a Plotly figure
into a mime bundle that carries, beside the Plotly JSON, a static image (SVG by default, PNG on request) drawn by
kaleido with the system Chromium, the same image inline as offline ``text/html`` (no script, no network) and a
one-line ``text/plain`` summary. ``widget_bundle`` keeps a widget's live view and adds a ``text/plain`` and HTML
summary of what it shows (labels, values, result cards, its charts as images).

The panel builders stay pure (they return ``go.Figure``); ``register`` plugs these bundles into IPython by type name
when ``%load_ext kaizen_lab`` runs. Images: ``configure(image="svg" | "png" | "off")`` or the environment variable
``KAIZEN_STATIC_IMAGES``; without Chromium the bundle says so in one line and keeps the rest.
"""

from __future__ import annotations

import atexit
import base64
import html
import json
import os
import threading
import warnings
from typing import Any

__all__ = ["IMAGE_FORMATS", "configure", "display_figure", "figure_bundle", "figure_image", "figure_summary", "register",
           "unregister", "widget_bundle"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_FORMATS = ("svg", "png", "off")
ENV_VAR = "KAIZEN_STATIC_IMAGES"
IMAGE_TIMEOUT = 120.0  # the first image starts Chromium: seconds on a loaded machine

_lock = threading.Lock()
_state: dict[str, Any] = {"format": None, "server": False, "unavailable": None}


def configure(image: str | None = None) -> str:
    """Set the static image format (``svg``, ``png`` or ``off``); returns the format in use.

    ``None`` re-reads ``KAIZEN_STATIC_IMAGES`` (default ``svg``). A bad value raises ``ConfigError``.
    """
    from kaizen_lab.errors import ConfigError

    value = (image if image is not None else os.environ.get(ENV_VAR, "svg")).strip().lower()
    if value not in IMAGE_FORMATS:
        source = "configure(image=...)" if image is not None else ENV_VAR
        raise ConfigError(f"{source}: expected one of {', '.join(IMAGE_FORMATS)}, got {value!r}")
    _state["format"] = value
    return value


def _format() -> str:
    return _state["format"] or configure()


def _stop_server() -> None:
    if _state["server"]:
        import kaleido

        _state["server"] = False
        try:
            kaleido.stop_sync_server(silence_warnings=True)
        except Exception:  # noqa: BLE001 - the browser may already be gone at interpreter exit
            pass


def figure_image(fig: Any, fmt: str = "svg") -> bytes | None:
    """The figure drawn by kaleido (one Chromium per process, started on first use); ``None`` when unavailable.

    The reason it is unavailable (no kaleido, no Chromium) is kept for the note in ``figure_bundle``; the
    first failure is not retried, so a machine without Chromium pays for the attempt once.
    """
    if _state["unavailable"]:
        return None
    with _lock:
        try:
            import kaleido
            import plotly.io as pio

            if not _state["server"]:
                _find_browser()  # kaleido's server thread would die on a missing browser and leave callers waiting
                kaleido.start_sync_server(silence_warnings=True)
                _state["server"] = True
                atexit.register(_stop_server)
            data = _with_timeout(lambda: pio.to_image(fig, format=fmt), IMAGE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure means "no image"; the note names it
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, ImportError):
                reason = "kaleido is not installed (pip install 'kaizen-lab[notebook]')"
            _state["unavailable"] = reason[:200]
            _stop_server()
            return None
    return bytes(data)


def _find_browser() -> str:
    """The Chromium/Chrome kaleido would drive (``BROWSER_PATH`` or the usual names); raises if there is none."""
    from choreographer.browsers.chromium import Chromium

    path = Chromium.find_browser(skip_local=False)
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        where = f" at BROWSER_PATH={os.environ['BROWSER_PATH']!r}" if os.environ.get("BROWSER_PATH") else ""
        raise FileNotFoundError(f"no Chromium found{where} (Debian: apt-get install chromium)")
    return str(path)


def _with_timeout(fn: Any, seconds: float) -> Any:
    """Run ``fn`` in a helper thread; a browser that stops answering must not hang the kernel."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "kopts is ignored with a server": expected, not the user's concern
                box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="kaizen-static-image", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"the static image took longer than {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _title(layout: dict[str, Any]) -> str:
    title = layout.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    return str(text) if text else ""


def figure_summary(fig_json: dict[str, Any]) -> str:
    """One line: the title and the traces (type, name, number of points)."""
    traces = []
    for trace in fig_json.get("data", []):
        points = next((len(trace[k]) for k in ("x", "y", "labels", "values") if isinstance(trace.get(k), list)), None)
        name = f" {trace['name']!r}" if trace.get("name") else ""
        count = "" if points is None else f" ({points} point{'' if points == 1 else 's'})"
        traces.append(f"{trace.get('type', 'scatter')}{name}{count}")
    title = _title(fig_json.get("layout", {}))
    return f"Figure{f' {title!r}' if title else ''}: " + ("; ".join(traces) if traces else "no traces")


def _image_html(fmt: str, data: bytes, alt: str) -> str:
    if fmt == "svg":
        return data.decode("utf-8")
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img alt='{html.escape(alt, quote=True)}' src='data:image/png;base64,{encoded}'/>"


def _note(summary: str) -> str:
    fmt = _format()
    why = ("static images are off (KAIZEN_STATIC_IMAGES=off)" if fmt == "off"
           else f"no static image: {_state['unavailable']}; KAIZEN_STATIC_IMAGES=off turns images off")
    return (f"<div class='kaizen-chart kaizen-chart-text'><div>{html.escape(summary)}</div>"
            f"<div style='color:#757575;font-size:smaller'>{html.escape(why)}</div></div>")


def _static(fig: Any, summary: str) -> tuple[dict[str, Any], str]:
    """(image mime data, offline HTML) of a figure: the image inline, or the one-line note."""
    fmt = _format()
    data = figure_image(fig, fmt) if fmt != "off" else None
    if data is None:
        return {}, _note(summary)
    mime = ("image/svg+xml", data.decode("utf-8")) if fmt == "svg" else ("image/png", base64.b64encode(data).decode())
    body = (f"<div class='kaizen-chart' title='{html.escape(summary, quote=True)}'>"
            f"{_image_html(fmt, data, summary)}</div>")
    return dict([mime]), body


def figure_bundle(fig: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The mime bundle of a Plotly figure: Plotly JSON, a static image, offline HTML and a text summary."""
    fig_json = json.loads(fig.to_json())
    summary = figure_summary(fig_json)
    image, body = _static(fig, summary)
    return {PLOTLY_MIME: {"data": fig_json.get("data", []), "layout": fig_json.get("layout", {})},
            **image, "text/html": body, "text/plain": summary}


def display_figure(fig: Any) -> None:
    """Publish ``figure_bundle(fig)``: Plotly's own ``_ipython_display_`` would bypass the mime bundle formatter."""
    from IPython.display import display

    display(figure_bundle(fig), raw=True)


# ---- widgets -------------------------------------------------------------------------------------------------


def _widget_parts(widget: Any, depth: int = 0) -> tuple[list[str], str]:
    """(text lines, HTML) describing what a widget shows, recursing into boxes; charts become images."""
    import plotly.basedatatypes

    name = type(widget).__name__
    if depth > 8:
        return [], ""
    if isinstance(widget, plotly.basedatatypes.BaseFigure):
        summary = figure_summary(json.loads(widget.to_json()))
        return [summary], _static(widget, summary)[1]
    stepper = getattr(widget, "stepper", None)
    if stepper is not None and hasattr(stepper, "status"):  # the debugger: its status line and its graph
        from kaizen_lab.notebook.panels.graph import graph_figure

        line = widget.status_line() if hasattr(widget, "status_line") else repr(stepper)
        figure = graph_figure(stepper, stepper.status())
        summary = figure_summary(json.loads(figure.to_json()))
        return [line, summary], f"<div>{html.escape(line)}</div>{_static(figure, summary)[1]}"
    children = getattr(widget, "children", None)
    if isinstance(children, tuple | list):
        lines: list[str] = []
        parts = []
        for child in children:
            child_lines, child_html = _widget_parts(child, depth + 1)
            lines += child_lines
            parts.append(child_html)
        direction = "row" if name == "HBox" else "column"
        return lines, f"<div style='display:flex;flex-direction:{direction};gap:4px'>{''.join(parts)}</div>"
    if name == "Output":
        lines, parts = [], []
        for out in getattr(widget, "outputs", ()):
            data = out.get("data", {})
            text = out.get("text") or data.get("text/plain") or ""
            lines += [str(text).rstrip()] if text else []
            parts.append(data.get("text/html") or f"<pre>{html.escape(str(text))}</pre>")
        return lines, f"<div>{''.join(parts)}</div>"
    if name in ("HTML", "HTMLMath"):
        value = str(getattr(widget, "value", ""))
        return ([_strip_tags(value)] if value.strip() else []), f"<div>{value}</div>"
    if name == "Button":
        label = str(getattr(widget, "description", ""))
        return [f"[{label}]"], f"<button disabled>{html.escape(label)}</button>"
    description = str(getattr(widget, "description", "") or "")
    if hasattr(widget, "value"):
        shown: Any = getattr(widget, "label", None) if hasattr(widget, "options") else None  # a choice's label
        shown = widget.value if shown is None else shown
        if name in ("IntProgress", "FloatProgress"):
            shown = f"{widget.value}/{widget.max}"
        label = f"{description}: {shown}" if description else str(shown)
        return [label], f"<div>{html.escape(label)}</div>"
    return [name], f"<div>{html.escape(name)}</div>"


def _strip_tags(text: str) -> str:
    import re

    plain = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(plain.split())


def widget_bundle(widget: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The widget's live view plus a ``text/plain`` and HTML summary for renderers without widget JavaScript."""
    own = widget._repr_mimebundle_(include=include, exclude=exclude) or {}
    bundle = dict(own[0] if isinstance(own, tuple) else own)  # anywidget answers (data, metadata)
    lines, body = _widget_parts(widget)
    lines = [ln for ln in lines if ln]
    head = type(widget).__name__
    bundle["text/plain"] = head + (":\n  " + "\n  ".join(lines) if lines else "")
    bundle["text/html"] = f"<div class='kaizen-widget-static' data-widget='{html.escape(head)}'>{body}</div>"
    return bundle


# ---- registration --------------------------------------------------------------------------------------------

_FIGURES = [("plotly.graph_objs._figure", "Figure")]
_WIDGETS = [("plotly.graph_objs._figurewidget", "FigureWidget"),
            ("kaizen_lab.notebook.widgets.playground", "Playground"),
            ("kaizen_lab.notebook.widgets.debugger", "Debugger"),
            ("kaizen_lab.notebook.widgets.optimization", "OptimizationProgress")]


def register(ip: Any) -> None:
    """Plotly figures and kaizen-lab widgets get their static fallbacks on ``ip`` (by type name: no import)."""
    fmt = ip.display_formatter.mimebundle_formatter
    for module, name in _FIGURES:
        fmt.for_type_by_name(module, name, figure_bundle)
        ip.display_formatter.ipython_display_formatter.for_type_by_name(module, name, display_figure)
    for module, name in _WIDGETS:
        fmt.for_type_by_name(module, name, widget_bundle)


def unregister(ip: Any) -> None:
    formatters = (ip.display_formatter.mimebundle_formatter, ip.display_formatter.ipython_display_formatter)
    for fmt in formatters:
        for module, name in (*_FIGURES, *_WIDGETS):
            fmt.deferred_printers.pop((module, name), None)
            for tp in list(fmt.type_printers):
                if getattr(tp, "__name__", None) == name and getattr(tp, "__module__", None) == module:
                    fmt.type_printers.pop(tp, None)
