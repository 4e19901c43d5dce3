"""Response caches: an in-memory LRU and an embedded SQLite file, behind one small protocol.

``CachedModel(model, cache)`` wraps any model. The key is a stable SHA-256 of the model label, the messages,
``settings.key()`` (timeout excluded: it does not change the answer), the offered tools and the output schema.
Only successful responses are stored, so an error is retried on the next call instead of being replayed.
A hit comes back with ``cache_hit=True``; its cost is 0.0 when the original cost was known (nothing was
spent), else ``None``.

Opt in per model (wrap it), per agent (the agent's ``cache=`` option wraps its model), or process-wide with
``set_default_cache``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kaizen_lab.errors import UserError
from kaizen_lab.messages import Message, ToolCall, ToolSpec
from kaizen_lab.models.base import ModelBase, ModelResponse, ModelSettings, TokenLogprob, Usage

__all__ = [
    "CachedModel",
    "MemoryCache",
    "ResponseCache",
    "SQLiteCache",
    "cache_key",
    "get_default_cache",
    "response_from_dict",
    "response_to_dict",
    "set_default_cache",
]


@runtime_checkable
class ResponseCache(Protocol):
    """Where cached responses live. Implementations must be safe to call from several threads."""

    def get(self, key: str) -> ModelResponse | None: ...

    def set(self, key: str, response: ModelResponse) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


def _message_row(m: Message) -> list[Any]:
    # plain lists, not dataclasses.asdict (which deep-copies): the key is computed on every cached request
    row = [m.role, m.content, [[t.id, t.name, t.arguments] for t in m.tool_calls], m.tool_call_id, m.name]
    if m.images:  # the images decide the answer too: their digests join the key
        row.append([[i.mime_type, hashlib.sha256(i.data).hexdigest()] for i in m.images])
    return row


def cache_key(model_label: str, messages: Sequence[Message], settings: ModelSettings | None = None,
              tools: Sequence[ToolSpec] | None = None, output_schema: dict[str, Any] | None = None) -> str:
    """A stable hex digest of everything that determines a model's answer."""
    payload = [
        model_label,
        [_message_row(m) for m in messages],
        list((settings or ModelSettings()).key()),
        [[t.name, t.description, t.parameters] for t in tools or ()],
        output_schema,
    ]
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def response_to_dict(response: ModelResponse) -> dict[str, Any]:
    """The JSON-safe part of a response (``raw`` is provider-specific and not kept)."""
    return {"text": response.text,
            "tool_calls": [{"id": t.id, "name": t.name, "arguments": t.arguments} for t in response.tool_calls],
            "usage": [response.usage.input_tokens, response.usage.output_tokens],
            "model_name": response.model_name, "latency_ms": response.latency_ms,
            "finish_reason": response.finish_reason, "cost": response.cost,
            "logprobs": None if response.logprobs is None else
            [[t.token, t.logprob, t.data.hex(), [list(a) for a in t.top]] for t in response.logprobs]}


def response_from_dict(data: dict[str, Any]) -> ModelResponse:
    return ModelResponse(
        text=data["text"], tool_calls=tuple(ToolCall(**t) for t in data["tool_calls"]),
        usage=Usage(*data["usage"]), model_name=data["model_name"], latency_ms=data["latency_ms"],
        finish_reason=data["finish_reason"], cost=data["cost"],
        logprobs=None if data.get("logprobs") is None else tuple(
            TokenLogprob(token, logprob, bytes.fromhex(hexdata), tuple((str(a), float(b)) for a, b in top))
            for token, logprob, hexdata, top in data["logprobs"]))


class MemoryCache:
    """A thread-safe in-process LRU of at most ``maxsize`` responses."""

    def __init__(self, maxsize: int = 1024) -> None:
        if maxsize < 1:
            raise UserError(f"MemoryCache(maxsize={maxsize}): maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[str, ModelResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ModelResponse | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def set(self, key: str, response: ModelResponse) -> None:
        with self._lock:
            self._data[key] = replace(response, raw=None)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return True  # an empty cache is still a cache: ``if cache:`` must not switch caching off

    def __repr__(self) -> str:
        return f"MemoryCache({len(self)}/{self.maxsize})"


class SQLiteCache:
    """Responses kept in an embedded SQLite file (WAL), shared by processes and kept across restarts.

    Args:
        path: the database file (created with its parent folders); ``":memory:"`` for a private one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # one connection guarded by a lock: lookups are sub-millisecond, so a pool would cost more than it saves
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                               "created REAL NOT NULL)")

    def get(self, key: str) -> ModelResponse | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return response_from_dict(json.loads(row[0])) if row else None

    def set(self, key: str, response: ModelResponse) -> None:
        value = json.dumps(response_to_dict(response), ensure_ascii=False)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                               (key, value, time.time()))

    def clear(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM responses")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def __bool__(self) -> bool:
        return True  # an empty cache is still a cache: ``if cache:`` must not switch caching off

    def __repr__(self) -> str:
        return f"SQLiteCache({self.path!r})"


class CachedModel(ModelBase):
    """Wraps ``model`` so identical requests are answered from ``cache``; counts ``hits`` and ``misses``."""

    def __init__(self, model: Any, cache: ResponseCache | None = None) -> None:
        from kaizen_lab.models.registry import resolve_model

        self.model = resolve_model(model)
        self.cache: ResponseCache = cache if cache is not None else MemoryCache()
        self.name = self.model.name
        self.provider = self.model.provider
        self.hosted = bool(getattr(self.model, "hosted", False))
        self.supports_structured_output = bool(getattr(self.model, "supports_structured_output", False))
        self.supports_images = bool(getattr(self.model, "supports_images", False))
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return getattr(self.model, "label", f"{self.provider}:{self.name}")

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        key = cache_key(self.label, messages, settings, tools, output_schema)
        start = time.perf_counter()
        found = self.cache.get(key)
        if found is not None:
            with self._lock:
                self.hits += 1
            return replace(found, cache_hit=True, latency_ms=(time.perf_counter() - start) * 1000,
                           cost=None if found.cost is None else 0.0)
        with self._lock:
            self.misses += 1
        response = await self.model.request(messages, settings=settings, tools=tools, output_schema=output_schema)
        self.cache.set(key, response)  # only reached on success: errors are never cached
        return response

    async def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                     output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]:
        """A hit yields the cached text at once; a miss streams from the wrapped model (streams are not stored,
        since they carry no usage to replay)."""
        found = self.cache.get(cache_key(self.label, messages, settings, None, output_schema))
        if found is not None:
            with self._lock:
                self.hits += 1
            yield found.text
            return
        with self._lock:
            self.misses += 1
        async for delta in self.model.stream(messages, settings=settings, output_schema=output_schema):
            yield delta

    def __repr__(self) -> str:
        return f"CachedModel({self.model!r}, {self.cache!r}, hits={self.hits}, misses={self.misses})"


_default_cache: ResponseCache | None = None


def set_default_cache(cache: ResponseCache | None) -> None:
    """Cache every agent's model requests process-wide (``None`` switches it off)."""
    global _default_cache
    _default_cache = cache


def get_default_cache() -> ResponseCache | None:
    """The process-wide cache set with ``set_default_cache``, if any."""
    return _default_cache
