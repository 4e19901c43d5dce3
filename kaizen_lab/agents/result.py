"""``ExecutionResult``: typed outputs as attributes and as a mapping, plus metadata and the event list."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExecutionResult", "RunMetadata"]


@dataclass(frozen=True, slots=True)
class RunMetadata:
    run_id: str
    agent_id: str
    model: str
    duration_ms: float
    step_ms: dict[str, float] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    retries: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    cache_hits: int = 0
    session: str | None = None
    #: natural-log probability of the answer (the first output's value) under the model, when it reports token
    #: log-probabilities (the local model always; hosted models when asked); ``None`` otherwise
    answer_logprob: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class ExecutionResult(Mapping[str, Any]):
    """The outcome of one agent run. ``result.answer`` and ``result["answer"]`` are the same."""

    __slots__ = ("_data", "metadata", "events", "inputs")

    def __init__(self, data: dict[str, Any], metadata: RunMetadata, events: list[Any],
                 inputs: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "inputs", inputs or {})

    @property
    def data(self) -> dict[str, Any]:
        return dict(self._data)

    @property
    def run_id(self) -> str:
        return self.metadata.run_id

    def __getattr__(self, name: str) -> Any:
        data = object.__getattribute__(self, "_data")
        if name in data:
            return data[name]
        raise AttributeError(f"ExecutionResult has no field {name!r}; its fields are {list(data)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ExecutionResult is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExecutionResult):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        from kaizen_lab.events import event_to_dict

        return {"outputs": _jsonable(self._data), "inputs": _jsonable(self.inputs),
                "metadata": self.metadata.to_dict(), "events": [event_to_dict(e) for e in self.events]}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"ExecutionResult({fields})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(_short(v))}</td></tr>"
                       for k, v in self._data.items())
        m = self.metadata
        cost = "n/a" if m.cost is None else f"${m.cost:.6f}"
        foot = (f"{html.escape(m.agent_id)} · {html.escape(m.model)} · {m.duration_ms:.1f} ms · "
                f"{m.input_tokens}+{m.output_tokens} tokens · cost {cost}")
        card = (f"<div class='kaizen-result' data-run-id='{html.escape(m.run_id)}' "
                f"style='border:1px solid var(--jp-border-color1, #9e9e9e);border-radius:6px;padding:6px 10px;display:inline-block'>"
                f"<table>{rows}</table><div class='kaizen-result-foot' style='color:var(--vscode-editor-foreground, var(--jp-ui-font-color1, #1f1f1f));font-size:85%'>{foot}</div></div>")
        return {"text/plain": repr(self), "text/html": card}


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
