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
    "ConfidenceUnavailableError",
    "ConfigError",
    "KaizenError",
    "KaizenTimeoutError",
    "MCPError",
    "ModelError",
    "OutputParseError",
    "PromptTooSlowError",
    "RealRequestsForbiddenError",
    "RedactedCause",
    "SecurityError",
    "SignatureError",
    "ToolError",
    "UnsupportedModelError",
    "UserError",
    "did_you_mean",
    "redacted_cause",
]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class KaizenError(Exception):
    """Base of every error raised by kaizen_lab."""

    def __init__(self, message: str, *, events: Sequence[Any] = (), partial: Any = None) -> None:
        # secrets (API keys, bearer tokens ...) never reach an error message, its logs or a notebook output
        from kaizen_lab.redact import redact_text

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


class UnsupportedModelError(UserError, ValueError):
    """A model file the embedded engine cannot run: its architecture, a tensor's quantization, its tokenizer or
    another feature. ``feature`` names which, ``value`` what the file has, ``supported`` what would work."""

    def __init__(self, message: str, *, path: str = "", feature: str = "", value: Any = None,
                 supported: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.feature = feature
        self.value = value
        self.supported = tuple(supported)


class RealRequestsForbiddenError(UserError):
    """A hosted model was asked for while real requests are disabled (the test guard)."""


class ConfidenceUnavailableError(UserError):
    """A signature has a ``Confidence`` output but the model reported no token log-probabilities to fill it."""

    def __init__(self, message: str, *, model: str = "", field: str = "", events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        self.model = model
        self.field = field


class AgentRunError(KaizenError):
    """Something failed while an agent or workflow was running."""


class ModelError(AgentRunError):
    """A model provider failed: HTTP status, body and whether a retry could help."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None, body: Any = None,
                 retryable: bool = False, retry_after: float | None = None, events: Sequence[Any] = (),
                 partial: Any = None) -> None:
        super().__init__(message, events=events, partial=partial)
        from kaizen_lab.redact import redact

        self.provider = provider
        self.status = status
        self.body = redact(body)  # providers echo keys in error bodies ("Incorrect API key provided: sk-...")
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


class PromptTooSlowError(KaizenTimeoutError):
    """A prompt that cannot be read within the time limit, refused before the work starts.

    ``predicted_seconds`` is the estimate (from the speed the engine measured), ``seconds`` the limit and
    ``prompt_tokens`` the prompt's length; the message says how to fix it (a longer timeout, a shorter prompt).
    """

    def __init__(self, message: str, *, seconds: float | None = None, predicted_seconds: float = 0.0,
                 prompt_tokens: int = 0, events: Sequence[Any] = (), partial: Any = None) -> None:
        super().__init__(message, seconds=seconds, events=events, partial=partial)
        self.predicted_seconds = predicted_seconds
        self.prompt_tokens = prompt_tokens


class SecurityError(KaizenError):
    """Base of authentication and authorization failures."""


class AuthenticationError(SecurityError):
    """Credentials missing, wrong, expired or locked out."""


class AuthorizationError(SecurityError):
    """An authenticated principal lacks the permission for an operation."""


class RedactedCause(Exception):
    """Stands in for an outside error that carried a secret in its message when it becomes a kaizen-lab
    error's ``__cause__``: Jupyter and ``traceback`` print the whole chain, so the original would show the
    secret. Keeps the original's type name (``original_type``) and traceback (where it happened)."""

    def __init__(self, original: BaseException) -> None:
        from kaizen_lab.redact import redact_text

        kind = type(original)
        self.original_type = f"{kind.__module__}.{kind.__qualname__}"
        super().__init__(f"{kind.__name__}: {redact_text(str(original))}")
        self.__traceback__ = original.__traceback__
        inner = original.__cause__ or (None if original.__suppress_context__ else original.__context__)
        if inner is not None:
            self.__cause__ = redacted_cause(inner)
        self.__suppress_context__ = True


def _chain_is_clean(exc: BaseException | None, depth: int = 0) -> bool:
    from kaizen_lab.redact import redact_text

    if exc is None:
        return True
    if depth > 20:
        return False
    text = str(exc)
    if redact_text(text) != text or any(isinstance(a, str) and redact_text(a) != a for a in exc.args):
        return False
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return _chain_is_clean(inner, depth + 1)


def redacted_cause(exc: BaseException) -> BaseException:
    """``exc`` when neither it nor its chain holds a secret, otherwise a ``RedactedCause`` in its place:
    use as ``raise KaizenError(...) from redacted_cause(exc)``."""
    if isinstance(exc, KaizenError | RedactedCause) and _chain_is_clean(exc.__cause__):
        return exc  # its message is already redacted
    return exc if _chain_is_clean(exc) else RedactedCause(exc)
