"""Errors split by blame.

``UserError`` is the developer's mistake (a bad signature, an unknown input, a bad config value) and its
message always names the fix. ``AgentRunError`` and its children happen at run time; they carry typed fields
and keep the work done so far: ``err.events`` (the typed event list) and ``err.partial`` (outputs or state
gathered before the failure). Constructors never log.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AgentRunError",
    "AuthenticationError",
    "AuthorizationError",
    "ConfigError",
    "KaizenError",
    "KaizenTimeoutError",
    "MCPError",
    "ModelError",
    "OutputParseError",
    "RealRequestsForbiddenError",
    "SecurityError",
    "SignatureError",
    "ToolError",
    "UserError",
    "did_you_mean",
]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class KaizenError(Exception):
    """Base of every error raised by kaizen_lab."""

    def __init__(self, message: str, *, events: Sequence[Any] = (), partial: Any = None) -> None:
        # secrets (API keys, bearer tokens ...) never reach an error message, its logs or a notebook output
        from kaizen_lab.security.redact import redact_text

        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.events: list[Any] = list(events)
        self.partial = partial

    @property
    def trace(self) -> list[Any]:
        """The events recorded before the error (alias of ``events``)."""
        return self.events


class UserError(KaizenError):
    """The caller's mistake; the message says how to fix it."""


class SignatureError(UserError):
    """A signature that does not parse or does not make sense.

    ``column`` is 0-based within ``line_text``; ``str(err)`` shows the message, the line and a caret.
    """

    def __init__(self, reason: str, *, text: str = "", line: int = 1, column: int | None = None,
                 line_text: str | None = None) -> None:
        self.reason = reason
        self.text = text
        self.line = line
        self.column = column
        if line_text is None:
            lines = text.splitlines() or [""]
            line_text = lines[line - 1] if 0 < line <= len(lines) else ""
        self.line_text = line_text
        message = reason
        if column is not None:
            where = f"line {line}, column {column + 1}" if text.count("\n") else f"column {column + 1}"
            message = f"{reason} at {where}\n    {line_text}\n    {' ' * column}^"
        super().__init__(message)


class ConfigError(UserError):
    """A configuration value that is missing, unknown or of the wrong shape."""

    def __init__(self, message: str, *, path: str = "", value: Any = None, allowed: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.value = value
        self.allowed = allowed


class RealRequestsForbiddenError(UserError):
    """A hosted model was asked for while real requests are disabled (the test guard)."""


class AgentRunError(KaizenError):
    """Something failed while an agent or workflow was running."""


class ModelError(AgentRunError):
    """A model provider failed: HTTP status, body and whether a retry could help."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None, body: Any = None,
                 retryable: bool = False, retry_after: float | None = None, events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        self.provider = provider
        self.status = status
        self.body = body
        self.retryable = retryable
        self.retry_after = retry_after


class OutputParseError(AgentRunError):
    """A model's answer that could not be parsed or validated against the signature's outputs."""

    def __init__(self, reason: str, *, raw_output: str = "", expected: Sequence[str] = (),
                 parsed: dict[str, Any] | None = None, events: Sequence[Any] = (), partial: Any = None) -> None:
        expected = tuple(expected)
        preview = raw_output if len(raw_output) <= 300 else raw_output[:300] + "…"
        message = (f"could not parse the model output: {reason}; expected fields {list(expected)}; "
                   f"raw output: {preview!r}")
        super().__init__(message, events=events, partial=partial)
        self.reason = reason
        self.raw_output = raw_output
        self.expected = expected
        self.parsed = dict(parsed or {})


class ToolError(AgentRunError):
    """A tool failed, or the tool-calling loop hit its step limit."""

    def __init__(self, message: str, *, tool: str = "", arguments: Any = None, events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        self.tool = tool
        self.arguments = arguments


class MCPError(AgentRunError):
    """An MCP server could not be reached, refused us, or returned an error."""

    def __init__(self, message: str, *, server: str = "", tool: str = "", events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        self.server = server
        self.tool = tool


class KaizenTimeoutError(AgentRunError, TimeoutError):
    """A run, a model call, a tool call or a pattern exceeded its time limit."""

    def __init__(self, message: str, *, seconds: float | None = None, events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        self.seconds = seconds


class SecurityError(KaizenError):
    """Base of authentication and authorization failures."""


class AuthenticationError(SecurityError):
    """Credentials missing, wrong, expired or locked out."""


class AuthorizationError(SecurityError):
    """An authenticated principal lacks the permission for an operation."""
