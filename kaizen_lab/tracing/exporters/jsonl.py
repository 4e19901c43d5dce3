"""JSON Lines export: one ``{"type": "run" | "span" | "event", ...}`` object per line (payloads redacted)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kaizen_lab.tracing.spans import Trace

__all__ = ["JsonlExporter", "export_jsonl", "read_jsonl", "trace_lines"]


def trace_lines(trace: Trace) -> Iterator[str]:
    """The JSONL lines of one trace: its runs, then its spans, then its events."""
    for run in trace.runs:
        yield json.dumps({"type": "run", **run.to_dict()}, ensure_ascii=False, default=str)
    for span in trace.spans:
        yield json.dumps({"type": "span", **span.to_dict()}, ensure_ascii=False, default=str)
    for event in trace.events:
        yield json.dumps({"type": "event", **event}, ensure_ascii=False, default=str)


class JsonlExporter:
    """Append each finished trace to a ``.jsonl`` file (created with its folder on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def export(self, trace: Trace) -> None:
        text = "".join(line + "\n" for line in trace_lines(trace))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(text)


def export_jsonl(traces: Trace | Iterable[Trace], path: str | Path) -> Path:
    """Write one or more traces to ``path`` (appending); returns the path."""
    exporter = JsonlExporter(path)
    for trace in [traces] if isinstance(traces, Trace) else traces:
        exporter.export(trace)
    return exporter.path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSONL export, as dicts."""
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
