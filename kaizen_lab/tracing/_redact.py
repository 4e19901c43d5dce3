"""Redaction for recorded payloads, with a cheap pre-check.

Strings for which ``kaizen_lab.redact.may_hold_secret`` (the redactor's own pre-check) finds no marker are
kept as they are and only the rest go through ``redact_text``. Extra patterns (``tracing.redact_patterns`` or
``register_patterns``) cannot be pre-checked, so when there are any every string is scanned. Values under
secret-looking keys are blanked exactly as ``redact`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kaizen_lab import redact as _redact

__all__ = ["PayloadRedactor"]


class PayloadRedactor:
    """Redacted copies of payloads (dicts, lists, strings) for traces and exports.

    Args:
        patterns: extra regular expressions whose matches are replaced (``tracing.redact_patterns``).
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._extra = tuple(patterns)
        self._secret_keys: dict[str, bool] = {}

    def _scan_all(self) -> bool:
        registered = getattr(_redact.default_redactor(), "_extra", ())
        return bool(self._extra or registered)

    def needed(self, text: str) -> bool:
        """Whether ``text`` (e.g. a run's payloads as JSON) may hold anything to redact."""
        return self._scan_all() or _redact.may_hold_secret(text)

    def text(self, text: str) -> str:
        if self._scan_all() or _redact.may_hold_secret(text):
            return _redact.redact_text(text, extra=self._extra)
        return text

    def __call__(self, obj: Any) -> Any:
        return self._walk(obj, self._scan_all(), 0)

    def _is_secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        known = self._secret_keys.get(key)
        if known is None:
            known = _redact.is_secret_key(key)
            if len(self._secret_keys) < 10_000:
                self._secret_keys[key] = known
        return known

    def _walk(self, obj: Any, scan_all: bool, depth: int) -> Any:
        if isinstance(obj, str):
            if scan_all or _redact.may_hold_secret(obj):
                return _redact.redact_text(obj, extra=self._extra)
            return obj
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        if depth > 50:
            return _redact.REDACTED
        if isinstance(obj, Mapping):
            out = {}
            for key, value in obj.items():
                if self._is_secret_key(key) and isinstance(value, str | bytes | int | float) \
                        and not isinstance(value, bool):
                    out[key] = _redact.REDACTED
                else:
                    out[key] = self._walk(value, scan_all, depth + 1)
            return out
        if isinstance(obj, list | tuple | set | frozenset):
            return [self._walk(v, scan_all, depth + 1) for v in obj]
        if hasattr(obj, "model_dump"):
            return self._walk(obj.model_dump(mode="json"), scan_all, depth + 1)
        return self._walk(str(obj), scan_all, depth + 1)
