"""Where monitored metrics come from: health probes, the current kernel's runs, or a remote ``/metrics``.

- ``HealthProbes`` is a ``prometheus_client`` collector of gauges computed on demand (MCP servers answering,
  distributed workers alive and queue depth, the audit chain verifying, how full the run store is), each probe
  cached for a few seconds so scrapes stay cheap; a probe that raises reports 0 (down), never an exception.
- ``KernelMetrics`` listens to the process's run events and keeps the same ``kaizen_agent_*`` series a
  deployment serves (channel ``notebook``), so the rules and the dashboard work in a notebook with no server.
- ``RemoteMetrics`` reads a deployment's ``/metrics`` over HTTP (with its API key) for a dashboard elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["HealthProbes", "KernelMetrics", "RemoteMetrics"]


class HealthProbes:
    """Gauges whose values come from callables, evaluated at most every ``ttl_s`` seconds.

    ``add(metric, help, labels, probe)``: ``probe()`` returns a number, or a dict from label values (a tuple, or
    a string for one label) to numbers.
    """

    def __init__(self, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._probes: dict[str, tuple[str, tuple[str, ...], Callable[[], Any]]] = {}
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def add(self, metric: str, help_text: str, labels: tuple[str, ...], probe: Callable[[], Any]) -> None:
        self._probes[metric] = (help_text, labels, probe)
        self._cache.pop(metric, None)

    def __contains__(self, metric: str) -> bool:
        return metric in self._probes

    def _value(self, metric: str, probe: Callable[[], Any]) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(metric)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        try:
            value = probe()
        except Exception:  # noqa: BLE001 - a probe that cannot answer reports "down"
            value = 0.0
        with self._lock:
            self._cache[metric] = (now, value)
        return value

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for metric, (help_text, labels, probe) in list(self._probes.items()):
            value = self._value(metric, probe)
            family = GaugeMetricFamily(metric, help_text, labels=list(labels) if labels else None)
            if isinstance(value, dict):
                for key, number in value.items():
                    family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], float(number))
            elif not labels:
                family.add_metric([], float(value))
            yield family


def mcp_probe(agents: Any) -> Callable[[], dict[str, float]]:
    """1 for each MCP server an agent is connected to that answers a fresh ``tools/list``, 0 otherwise (``ping``
    is not part of every protocol version; listing tools is)."""

    def probe() -> dict[str, float]:
        out: dict[str, float] = {}
        for agent in agents:
            for connection in getattr(agent, "mcp_connections", None) or ():
                name = str(getattr(connection, "name", connection))
                try:
                    connection.list_tools(refresh=True)
                    out[name] = 1.0
                except Exception:  # noqa: BLE001 - an unreachable server is what this probe reports
                    out[name] = 0.0
        return out

    return probe


def audit_probe(security: Any) -> Callable[[], float]:
    """1 when the audit chain verifies (with the security manager's anchored head when it keeps one)."""

    def probe() -> float:
        audit = getattr(security, "audit", None)
        if audit is None:
            return 1.0
        return 1.0 if audit.verify() else 0.0

    return probe


def store_fill_probe(store: Any, max_runs: int | None) -> Callable[[], float]:
    """Stored top-level runs as a fraction of the retention limit (0 when nothing is kept or no limit)."""

    def probe() -> float:
        if not max_runs:
            return 0.0
        return float(store.count_runs(roots_only=True)) / max_runs

    return probe


def redis_probe(url: str, queue_key: str, heartbeat_pattern: str) -> tuple[Callable[[], dict[str, float]],
                                                                         Callable[[], dict[str, float]]]:
    """(workers alive, queue depth) for a Redis-backed distributed runtime."""

    def client() -> Any:
        import redis

        return redis.Redis.from_url(url, socket_timeout=2)

    def workers() -> dict[str, float]:
        return {queue_key: float(sum(1 for _ in client().scan_iter(match=heartbeat_pattern, count=100)))}

    def depth() -> dict[str, float]:
        return {queue_key: float(client().llen(queue_key))}

    return workers, depth


class KernelMetrics:
    """The ``kaizen_agent_*`` metrics of runs in this process, fed by the run events (channel ``notebook``).

    With ``count_runs=False`` (a deployment, whose gateway counts requests) only what the HTTP answer cannot
    tell is counted: retries and timeouts, for the ``agents`` given.
    """

    def __init__(self, metrics: Any = None, *, channel: str = "notebook", count_runs: bool = True,
                 agents: Any = None) -> None:
        if metrics is None:
            from kaizen_lab.integrations._gateway import DeploymentMetrics

            metrics = DeploymentMetrics()
        self.metrics = metrics
        self.registry = metrics.registry
        self.channel = channel
        self.count_runs = count_runs
        self.agents = None if agents is None else set(agents)
        self._starts: dict[str, tuple[str, bool]] = {}  # run id -> (agent id, top level)
        self._remove: Callable[[], None] | None = None

    def start(self) -> KernelMetrics:
        from kaizen_lab.events import add_listener

        if self._remove is None:
            self._remove = add_listener(self.on_event)
        return self

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def on_event(self, event: Any) -> None:
        kind = event.kind
        if kind == "run_started":
            if self.agents is not None and event.agent_id not in self.agents:
                return
            self._starts[event.run_id] = (event.agent_id, event.parent_run_id is None)
            if self.count_runs:
                self.metrics.prepare(event.agent_id, self.channel)
        elif kind == "run_finished":
            if event.run_id not in self._starts:
                return
            agent, top = self._starts.pop(event.run_id)
            if not top:
                return
            if "timeout" in (event.error_type or "").lower():
                self.metrics.timeouts.labels(agent).inc()
            if self.count_runs:
                self.metrics.observe_run(agent, self.channel, ok=event.status == "ok",
                                         seconds=event.duration_ms / 1000)
        elif kind == "model_called" and self.count_runs:
            agent = self._starts.get(event.run_id, ("", True))[0]
            if agent:
                self.metrics.observe_usage(agent, event.input_tokens, event.output_tokens, event.cost)
        elif kind == "retried":
            agent = self._starts.get(event.run_id, ("", True))[0]
            if agent:
                self.metrics.retries.labels(agent).inc()


class RemoteMetrics:
    """A deployment's ``/metrics`` read over HTTP, usable wherever a registry is (``collect()``)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/metrics") else "/metrics")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def collect(self) -> Iterator[Any]:
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = httpx.get(self.url, headers=headers, timeout=self.timeout_s)
        if response.status_code != 200:
            from kaizen_lab.errors import UserError

            hint = " (pass api_key=...)" if response.status_code in (401, 403) else ""
            raise UserError(f"{self.url} answered {response.status_code}{hint}")
        yield from text_string_to_metric_families(response.text)
