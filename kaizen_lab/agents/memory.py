"""Conversation memory per session id.

``StateManager`` keeps each session's turns as messages. The default store is in memory; a persistent store
(DataFlow, see ``kaizen_lab.integrations.dataflow``) implements the same ``MemoryStore`` protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from kaizen_lab.messages import Message

__all__ = ["InMemoryStore", "MemoryStore", "StateManager"]


class MemoryStore(Protocol):
    def load(self, agent_id: str, session: str) -> list[dict[str, Any]]: ...

    def append(self, agent_id: str, session: str, turns: Sequence[dict[str, Any]]) -> None: ...

    def clear(self, agent_id: str, session: str | None = None) -> None: ...

    def sessions(self, agent_id: str) -> list[str]: ...


class InMemoryStore:
    """Turns kept in a dict, guarded by a lock."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def load(self, agent_id: str, session: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._data.get((agent_id, session), ()))

    def append(self, agent_id: str, session: str, turns: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            self._data.setdefault((agent_id, session), []).extend(turns)

    def clear(self, agent_id: str, session: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == agent_id and (session is None or k[1] == session)]:
                del self._data[key]

    def sessions(self, agent_id: str) -> list[str]:
        with self._lock:
            return [s for a, s in self._data if a == agent_id]


class StateManager:
    """Conversation history per session, bounded to the last ``max_turns`` exchanges."""

    def __init__(self, store: MemoryStore | None = None, *, max_turns: int = 20) -> None:
        self.store: MemoryStore = store or InMemoryStore()
        self.max_turns = max_turns

    def history(self, agent_id: str, session: str) -> list[Message]:
        turns = self.store.load(agent_id, session)[-2 * self.max_turns:]
        return [Message(t["role"], t["content"]) for t in turns]

    def record(self, agent_id: str, session: str, user: str, assistant: str) -> None:
        self.store.append(agent_id, session, [{"role": "user", "content": user},
                                              {"role": "assistant", "content": assistant}])

    def clear(self, agent_id: str, session: str | None = None) -> None:
        self.store.clear(agent_id, session)

    def sessions(self, agent_id: str) -> list[str]:
        return self.store.sessions(agent_id)
