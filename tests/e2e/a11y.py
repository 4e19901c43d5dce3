"""Browser helpers for the UI tests: axe-core (from the extension's npm dev dependencies) and colour checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "extensions/jupyterlab-kaizen/node_modules/axe-core/axe.min.js"

# the axe rules about reading (contrast) and reaching things by keyboard
CONTRAST_AND_KEYBOARD = [
    "color-contrast", "scrollable-region-focusable", "nested-interactive", "focus-order-semantics", "tabindex",
    "button-name", "link-name", "aria-command-name", "aria-toggle-field-name", "aria-allowed-attr",
    "aria-required-attr", "aria-valid-attr-value", "frame-focusable-content", "label",
]


def run_axe(page: Page, include: list[str], rules: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core violations inside the elements matching ``include`` (each a CSS selector).

    axe-core is the engine of @axe-core/playwright (a dev dependency of the extension, installed by
    ``npm ci``); its script is injected into the page as that package does.
    """
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing; run `make extension` (npm ci installs axe-core)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text())
    present = [sel for sel in include if page.locator(sel).count()]
    assert present, f"none of {include} is on the page"
    options: dict[str, Any] = {"runOnly": {"type": "rule", "values": rules or CONTRAST_AND_KEYBOARD},
                               "resultTypes": ["violations"]}
    result = page.evaluate(
        "async ([include, options]) => { const r = await axe.run({include: include.map(s => [s])}, options);"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))})); }",
        [present, options])
    return list(result)


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)[:4000]


EFFECTIVE_BG_JS = """(el) => {
  for (let n = el; n; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c)) return c;
  }
  return 'rgb(255, 255, 255)';
}"""


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of an ``rgb(...)``/``rgba(...)`` colour string."""
    parts = [float(x) for x in css[css.index("(") + 1:css.index(")")].replace("/", ",").split(",")[:3]]
    lin = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in parts]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def effective_background(page: Page, selector: str) -> list[str]:
    return [page.locator(selector).nth(i).evaluate(EFFECTIVE_BG_JS) for i in range(page.locator(selector).count())]


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)
