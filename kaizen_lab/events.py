"""The one typed event stream (ARCHITECTURE idea 2).

Every step of a run emits one of these frozen records. Tracing, the monitor, metrics, the debugger, widgets
and panels only consume them. Process-wide listeners (``add_listener``) see every event of every run; a run
also keeps its own list (``ExecutionResult.events``).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "Event",
    "EventListener",
    "MCPNotified",
    "ModelCalled",
    "ModelProgress",
    "Retried",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "ToolCalled",
    "add_listener",
    "collecting",
    "current_recorder",
    "current_run_id",
    "running",
    "emit",
    "record",
    "event_to_dict",
    "forward",
    "has_listeners",
    "new_id",
]

StepName: TypeAlias = Literal[
    "validate_inputs", "format", "model", "tool", "parse", "validate_outputs", "node", "pattern"
]
Status: TypeAlias = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    run_id: str
    agent_id: str
    inputs: dict[str, Any]
    model: str = ""
    parent_run_id: str | None = None
    ts: float = field(default_factory=time.time)
    kind: Literal["run_started"] = "run_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    run_id: str
    agent_id: str
    status: Status
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    error: str | None = None
    error_type: str | None = None
    ts: float = field(default_factory=time.time)
    kind: Literal["run_finished"] = "run_finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted:
    run_id: str
    step: StepName
    name: str = ""
    ts: float = field(default_factory=time.time)
    kind: Literal["step_started"] = "step_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished:
    run_id: str
    step: StepName
    name: str = ""
    status: Status = "ok"
    duration_ms: float = 0.0
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    ts: float = field(default_factory=time.time)
    kind: Literal["step_finished"] = "step_finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCalled:
    run_id: str
    model: str
    attempt: int = 1
    duration_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    cache_hit: bool = False
    tool_calls: tuple[str, ...] = ()
    finish: str = "stop"
    text_preview: str = ""
    error: str | None = None
    ts: float = field(default_factory=time.time)
    kind: Literal["model_called"] = "model_called"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelProgress:
    """A model call's long work while it runs: today the embedded model's prompt pass (``phase="prompt"``),
    ``done`` of ``total`` prompt tokens read after ``elapsed_ms``, ``eta_ms`` the estimated time left."""

    run_id: str
    model: str
    phase: str = "prompt"
    done: int = 0
    total: int = 0
    elapsed_ms: float = 0.0
    eta_ms: float | None = None
    ts: float = field(default_factory=time.time)
    kind: Literal["model_progress"] = "model_progress"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCalled:
    run_id: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    result_preview: str = ""
    error: str | None = None
    duration_ms: float = 0.0
    source: str = "python"
    content: tuple[dict[str, Any], ...] = ()  # typed tool output by type and size (MCP images, links, ...)
    ts: float = field(default_factory=time.time)
    kind: Literal["tool_called"] = "tool_called"


@dataclass(frozen=True, slots=True, kw_only=True)
class Retried:
    run_id: str
    attempt: int
    reason: str
    ts: float = field(default_factory=time.time)
    kind: Literal["retried"] = "retried"


@dataclass(frozen=True, slots=True, kw_only=True)
class MCPNotified:
    """Something an MCP server asked for or told during a run: ``what`` is sampling, elicitation, roots, log,
    progress, cancelled, resource_updated or warning; ``detail`` holds plain data (never secrets or payload
    bytes)."""

    run_id: str
    server: str
    what: str
    detail: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    kind: Literal["mcp"] = "mcp"


Event: TypeAlias = (RunStarted | RunFinished | StepStarted | StepFinished | ModelCalled | ModelProgress
                    | ToolCalled | Retried | MCPNotified)
EventListener: TypeAlias = Callable[[Event], None]

_listeners: tuple[EventListener, ...] = ()
_lock = threading.Lock()
_counter = itertools.count(1)
_prefix = f"{int(time.time() * 1000) % 10**8:08x}"


def new_id(prefix: str = "run") -> str:
    """A process-unique, sortable id such as ``run-0badf00d-000042`` (cheap: no uuid, no syscalls)."""
    return f"{prefix}-{_prefix}-{next(_counter):06d}"


def add_listener(listener: EventListener) -> Callable[[], None]:
    """Register a process-wide listener; returns a function that removes it."""
    global _listeners
    with _lock:
        _listeners = (*_listeners, listener)

    def remove() -> None:
        global _listeners
        with _lock:
            _listeners = tuple(x for x in _listeners if x is not listener)

    return remove


def has_listeners() -> bool:
    return bool(_listeners)


def emit(event: Event) -> None:
    """Send an event to every process-wide listener. A failing listener never breaks a run."""
    for listener in _listeners:
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - observers must not change the outcome of a run
            pass


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-friendly dict of an event."""
    return asdict(event)


_collectors: dict[str, list[Event]] = {}


@contextlib.contextmanager
def collecting(run_id: str) -> Iterator[list[Event]]:
    """Collect every event ``record``-ed for ``run_id`` (from any thread) into the yielded list."""
    bucket: list[Event] = []
    _collectors[run_id] = bucket
    try:
        yield bucket
    finally:
        _collectors.pop(run_id, None)


_current_run: contextvars.ContextVar[str] = contextvars.ContextVar("kaizen_current_run", default="")


def current_run_id() -> str:
    """The run whose tool call is executing in this context ('' outside one): MCP requests and
    notifications that arrive during the call are recorded on it."""
    return _current_run.get()


_current_recorder: contextvars.ContextVar[Callable[[Event], None] | None] = contextvars.ContextVar(
    "kaizen_current_recorder", default=None)


def current_recorder() -> Callable[[Event], None]:
    """How to record an event on the run executing in this context: the run's own recorder (its event list,
    its collector and the listeners) when ``running`` was given one, else ``record``. Capture it before
    handing work to another thread (context variables do not follow into executor threads)."""
    return _current_recorder.get() or record


@contextlib.contextmanager
def running(run_id: str, recorder: Callable[[Event], None] | None = None) -> Iterator[None]:
    token = _current_run.set(run_id)
    rtoken = _current_recorder.set(recorder)
    try:
        yield
    finally:
        _current_recorder.reset(rtoken)
        _current_run.reset(token)


def forward(run_id: str, events: Iterable[Event]) -> None:
    """Add events recorded under other runs (a sub-run inside a workflow node) to ``run_id``'s collector.

    Only the collector sees them (the listeners saw them when they were recorded).
    """
    bucket = _collectors.get(run_id)
    if bucket is not None:
        bucket.extend(events)


def record(event: Event) -> None:
    """Append an event to its run's collector (if one is open) and send it to the listeners."""
    bucket = _collectors.get(event.run_id)
    if bucket is not None:
        bucket.append(event)
    for listener in _listeners:  # ``emit`` inlined: this runs for every event of every run
        try:
            listener(event)
        except Exception:  # noqa: BLE001, S110 - observers must not change the outcome of a run
            pass
