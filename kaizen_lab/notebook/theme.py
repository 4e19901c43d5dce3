"""Light and dark palettes for the panels: Plotly templates, status colours and icons, WCAG AA contrast.

Every Plotly panel has a transparent background, so it sits on the notebook's own background in any theme;
text and grid colours come from the palette of the current theme:

- ``set_theme("dark" | "light" | "auto")`` sets it for the kernel (``KAIZEN_THEME`` in the environment too);
- the JupyterLab extension reports the theme over its comm, so later figures follow a theme switch;
- in JupyterLab the extension's stylesheet also restyles kaizen figures already drawn (they carry the font
  family ``kaizen-ui``, which it matches), so a panel drawn before the kernel heard of the theme still reads.

Status colours meet 3:1 (WCAG 1.4.11, graphical objects) against both the light and the dark background, and
every status also has an icon, so colour is never the only cue.
"""

from __future__ import annotations

import os
from typing import Any, Literal

__all__ = ["FONT_FAMILY", "PALETTES", "STATUS_ICONS", "Theme", "contrast_ratio", "current_theme", "palette",
           "plotly_template", "set_theme", "status_color", "themed"]

Theme = Literal["light", "dark"]

# the first family is a marker the extension's stylesheet matches; browsers fall through to the next ones
FONT_FAMILY = "kaizen-ui, 'Open Sans', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

STATUS_ICONS: dict[str, str] = {"pending": "○", "running": "▶", "done": "✓", "ok": "✓", "failed": "✗",
                                "error": "✗", "skipped": "↷"}

PALETTES: dict[str, dict[str, Any]] = {
    "light": {
        "text": "#1f1f1f", "muted": "#545454", "grid": "#d9d9d9", "line": "#6b6b6b", "surface": "#ffffff",
        "label_bg": "#ffffff", "accent": "#1565c0", "ring": "#0d47a1", "breakpoint": "#c62828",
        "status": {"pending": "#6b6b6b", "running": "#1565c0", "done": "#2e7d32", "failed": "#c62828",
                   "skipped": "#a15c00"},
        "kinds": {"agent": "#1565c0", "step": "#00737d", "model": "#6a1b9a", "tool": "#ad5400",
                  "retry": "#a15c00", "error": "#c62828"},
        "series": ["#1565c0", "#2e7d32", "#6a1b9a", "#ad5400", "#00737d", "#c62828"],
    },
    "dark": {
        "text": "#e8e8e8", "muted": "#b8b8b8", "grid": "#3d3d3d", "line": "#9e9e9e", "surface": "#1e1e1e",
        "label_bg": "#1e1e1e", "accent": "#90caf9", "ring": "#bbdefb", "breakpoint": "#ef9a9a",
        "status": {"pending": "#9e9e9e", "running": "#64b5f6", "done": "#81c784", "failed": "#ef9a9a",
                   "skipped": "#ffb74d"},
        "kinds": {"agent": "#64b5f6", "step": "#4dd0e1", "model": "#ce93d8", "tool": "#ffb74d",
                  "retry": "#ffd54f", "error": "#ef9a9a"},
        "series": ["#64b5f6", "#81c784", "#ce93d8", "#ffb74d", "#4dd0e1", "#ef9a9a"],
    },
}

_theme: Theme | None = None


def set_theme(theme: str | None) -> None:
    """Use ``"light"`` or ``"dark"`` for figures built from now on (``"auto"``/``None``: back to detection)."""
    global _theme
    if theme in (None, "auto"):
        _theme = None
        return
    if theme not in PALETTES:
        from kaizen_lab.errors import UserError

        raise UserError(f"unknown theme {theme!r}; use 'light', 'dark' or 'auto'")
    _theme = theme  # type: ignore[assignment]


def current_theme() -> Theme:
    """The theme figures use: ``set_theme``'s (or the extension's report), else ``KAIZEN_THEME``, else light."""
    if _theme is not None:
        return _theme
    env = os.environ.get("KAIZEN_THEME", "").strip().lower()
    return "dark" if env == "dark" else "light"


def palette(theme: str | None = None) -> dict[str, Any]:
    return PALETTES[theme if theme in PALETTES else current_theme()]


def status_color(status: str, theme: str | None = None) -> str:
    colours = palette(theme)["status"]
    return str(colours.get(status, colours["pending"]))


def plotly_template(theme: str | None = None) -> dict[str, Any]:
    """A Plotly template (as a plain dict): transparent background, theme text and grid colours."""
    p = palette(theme)
    axis = {"gridcolor": p["grid"], "linecolor": p["line"], "zerolinecolor": p["grid"], "tickcolor": p["line"],
            "title": {"font": {"color": p["text"]}}, "tickfont": {"color": p["text"]}}
    return {"layout": {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_FAMILY, "color": p["text"], "size": 12},
        "title": {"font": {"color": p["text"], "size": 15}, "x": 0.01, "xanchor": "left"},
        "colorway": p["series"], "xaxis": axis, "yaxis": axis,
        "legend": {"font": {"color": p["text"]}, "bgcolor": "rgba(0,0,0,0)"},
        "hoverlabel": {"bgcolor": p["surface"], "bordercolor": p["line"], "font": {"color": p["text"]},
                       "align": "left"},
        "annotationdefaults": {"font": {"color": p["text"]}},
    }}


def themed(fig: Any, theme: str | None = None) -> Any:
    """Apply the theme's template to ``fig`` (in place) and return it."""
    fig.update_layout(template=plotly_template(theme))
    return fig


def _luminance(colour: str) -> float:
    c = colour.lstrip("#")
    channels = [int(c[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1–21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
