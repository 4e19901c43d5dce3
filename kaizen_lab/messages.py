"""The shared vocabulary of a conversation: chat messages, the tool calls a model asks for, and the tools it is
offered. The ground floor: models, agents, adapters, MCP and tracing all speak it, and it imports nothing of
the package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Message", "Role", "ToolCall", "ToolSpec"]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``tool`` messages carry ``tool_call_id``; assistant messages may carry ``tool_calls``."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: name, description and JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
