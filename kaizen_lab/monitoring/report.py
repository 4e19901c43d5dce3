"""Alerts as text and as an accessible HTML table (notebook cards, the dashboard's alert list)."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from kaizen_lab.monitoring.engine import Alert

__all__ = ["alerts_html", "alerts_text"]

# state → (symbol, text colour on white with at least 4.5:1 contrast)
_STATE = {"firing": ("●", "#b3261e"), "pending": ("◐", "#8a5300"), "resolved": ("✓", "#1e6b34")}


def _age(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    seconds = max(0, int(now - ts))
    return f"{seconds // 60} min" if seconds >= 120 else f"{seconds} s"


def alerts_text(alerts: Sequence[Alert]) -> str:
    if not alerts:
        return "no alerts"
    now = time.time()
    return "\n".join(f"{a.state.upper():8} {a.rule} [{a.severity}]{' (silenced)' if a.silenced else ''} "
                     f"{a.summary} — since {_age(a.fired_at or a.active_at, now)}" for a in alerts)


def alerts_html(alerts: Sequence[Alert], *, title: str = "Alerts") -> str:
    now = time.time()
    if not alerts:
        body = "<p style='margin:4px 0'>No alerts: every rule is quiet.</p>"
    else:
        rows = []
        for a in sorted(alerts, key=lambda x: (x.state != "firing", x.rule)):
            symbol, colour = _STATE.get(a.state, ("", "inherit"))
            rows.append(f"<tr><td style='color:{colour}'><span aria-hidden='true'>{symbol}</span> {a.state}"
                        f"{' · silenced' if a.silenced else ''}</td><td><b>{html.escape(a.rule)}</b></td>"
                        f"<td>{html.escape(a.severity)}</td><td>{html.escape(a.summary)}</td>"
                        f"<td>{_age(a.fired_at or a.active_at, now)}</td></tr>")
        body = ("<table><thead><tr><th>state</th><th>alert</th><th>severity</th><th>what</th><th>for</th></tr>"
                f"</thead><tbody>{''.join(rows)}</tbody></table>")
    return f"<div class='kaizen-alerts'><b>{html.escape(title)}</b>{body}</div>"
