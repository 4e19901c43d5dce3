"""Secret redaction, as part of the security API: ``kaizen_lab.redact`` (the ground floor) is the one
implementation; this module re-exports it so ``kaizen_lab.security.redact`` keeps working."""

from __future__ import annotations

from kaizen_lab.redact import (
    REDACTED,
    Redactor,
    default_redactor,
    is_secret_key,
    may_hold_bare_secret,
    may_hold_secret,
    redact,
    redact_text,
    register_patterns,
)

__all__ = [
    "REDACTED",
    "Redactor",
    "default_redactor",
    "is_secret_key",
    "may_hold_bare_secret",
    "may_hold_secret",
    "redact",
    "redact_text",
    "register_patterns",
]
