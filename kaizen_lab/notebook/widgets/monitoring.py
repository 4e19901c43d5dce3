"""A live monitoring dashboard in the notebook: a Plotly ``FigureWidget`` and an alert list, updated in place.

The widget follows an ``AlertEvaluator``: after every evaluation it recomputes the dashboard series and assigns
the new values to the existing traces inside one ``batch_update`` (no re-render, no flicker). Its
``_repr_mimebundle_`` carries a static summary (text and HTML) beside the widget view, for viewers that do not run
widgets.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from kaizen_lab.monitoring.dashboard import dashboard_data
from kaizen_lab.monitoring.report import alerts_html, alerts_text
from kaizen_lab.notebook.panels.monitoring import TRACES, monitoring_figure, trace_values

__all__ = ["MonitoringDashboard"]


class MonitoringDashboard(widgets.VBox):
    """Live charts and alerts of a ``ProductionMonitoring``; ``refresh()`` redraws now, ``close()`` detaches."""

    def __init__(self, monitoring: Any, *, window_s: float = 600.0) -> None:
        self.monitoring = monitoring
        self.window_s = window_s
        data = dashboard_data(monitoring.history, window_s=window_s)
        alerts = monitoring.alert_manager.alerts()
        self.figure = go.FigureWidget(monitoring_figure(data, alerts))
        self.alerts = widgets.HTML(alerts_html(alerts))
        self.updates = 0
        self._detach = monitoring.alert_manager.on_change(lambda _evaluator: self.refresh())
        super().__init__([self.alerts, self.figure])

    def refresh(self) -> None:
        data = dashboard_data(self.monitoring.history, window_s=self.window_s)
        alerts = self.monitoring.alert_manager.alerts()
        firing = [a for a in alerts if a.state == "firing"]
        with self.figure.batch_update():
            for trace, (x, y) in zip(self.figure.data[:len(TRACES)], trace_values(data), strict=True):
                trace.x, trace.y = x, y
            table = self.figure.data[len(TRACES)]
            table.cells.values = ([[a.rule for a in firing], [a.severity for a in firing],
                                   [a.summary for a in firing]] if firing
                                  else [["none"], [""], ["every rule is quiet"]])
        self.alerts.value = alerts_html(alerts)
        self.updates += 1

    def close(self) -> None:
        self._detach()
        super().close()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(include=include, exclude=exclude) or {}
        alerts = self.monitoring.alert_manager.alerts()
        data = dashboard_data(self.monitoring.history, window_s=self.window_s)
        latest = (f"{data.requests_per_s[-1]:.2f} requests/s, p95 "
                  f"{'n/a' if data.latency_p95_s[-1] is None else f'{data.latency_p95_s[-1]:.3g} s'}"
                  if len(data) else "no samples yet")
        bundle["text/plain"] = f"monitoring dashboard: {latest}\n{alerts_text(alerts)}"
        bundle.setdefault("text/html", alerts_html(alerts, title=f"Monitoring: {latest}"))
        return bundle
