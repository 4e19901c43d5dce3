"""Redaction for recorded payloads, with a cheap pre-check.

``kaizen_lab.security.redact`` runs every credential pattern over every string; that costs milliseconds per
run, more than the run itself. Each of its built-in patterns needs one of a few literal markers (``sk-``,
``bearer``, ``eyJ``, ``://``, a secret-looking word next to ``:``/``=`` ...), so strings holding none of them
are kept as they are and only the rest go through ``redact_text``. Extra patterns (``tracing.redact_patterns``
or ``register_patterns``) cannot be pre-checked, so when there are any every string is scanned. Values under
secret-looking keys are blanked exactly as ``redact`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kaizen_lab.security.redact import may_hold_bare_secret

__all__ = ["PayloadRedactor"]

# Lower-case markers, one of which every built-in pattern of the security module needs to match.
_MARKERS = ("sk-", "bearer", "eyj", "://", "private key", "akia", "asia", "abia", "acca", "agpa", "aida",
            "aroa", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "aiza", "_live_", "_test_",
            "kz_")


_MARKERS_LOWER = tuple(m.lower() for m in _MARKERS)
# a secret-looking word right before ``:``/``=`` (as in ``"api_key": "..."`` or ``token=...``)
_ASSIGNMENT_LOWER = ("key", "secret", "token", "passwd", "password", "pwd", "credential", "credentials",
                     "authorization", "cookie", "auth", "passphrase")


_automaton: Any = None


def _markers() -> Any:
    """One Aho-Corasick automaton for every marker and secret-looking word: one pass over the text."""
    global _automaton
    if _automaton is None:
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for word in _MARKERS_LOWER:
            automaton.add_word(word, (True, len(word)))
        for word in _ASSIGNMENT_LOWER:
            if word not in _MARKERS_LOWER:
                automaton.add_word(word, (False, len(word)))
        automaton.make_automaton()
        _automaton = automaton
    return _automaton


def _maybe_secret(text: str) -> bool:
    """False only when no built-in pattern and no secret-looking key can match ``text`` (one C-speed pass)."""
    low = text.lower()
    n = len(low)
    if may_hold_bare_secret(text):  # an unlabelled AWS secret key has no marker
        return True
    for end, (marker, _length) in _markers().iter(low):
        if marker:
            return True
        j = end + 1  # a secret-looking word: is it a key being assigned (``"api_key": ...``, ``token=``)?
        while j < n and low[j] in "\"' ":
            j += 1
        if j < n and low[j] in ":=":
            return True
    return False


class PayloadRedactor:
    """Redacted copies of payloads (dicts, lists, strings) for traces and exports.

    Args:
        patterns: extra regular expressions whose matches are replaced (``tracing.redact_patterns``).
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        import importlib

        # the module, not the ``redact`` function that ``kaizen_lab.security`` re-exports under that name
        self._security = importlib.import_module("kaizen_lab.security.redact")
        self._extra = tuple(patterns)
        self._secret_keys: dict[str, bool] = {}

    def _scan_all(self) -> bool:
        registered = getattr(self._security.default_redactor(), "_extra", ())
        return bool(self._extra or registered)

    def needed(self, text: str) -> bool:
        """Whether ``text`` (e.g. a run's payloads as JSON) may hold anything to redact."""
        return self._scan_all() or _maybe_secret(text)

    def text(self, text: str) -> str:
        if self._scan_all() or _maybe_secret(text):
            return self._security.redact_text(text, extra=self._extra)
        return text

    def __call__(self, obj: Any) -> Any:
        return self._walk(obj, self._scan_all(), 0)

    def _is_secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        known = self._secret_keys.get(key)
        if known is None:
            known = self._security.is_secret_key(key)
            if len(self._secret_keys) < 10_000:
                self._secret_keys[key] = known
        return known

    def _walk(self, obj: Any, scan_all: bool, depth: int) -> Any:
        if isinstance(obj, str):
            if scan_all or _maybe_secret(obj):
                return self._security.redact_text(obj, extra=self._extra)
            return obj
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        if depth > 50:
            return self._security.REDACTED
        if isinstance(obj, Mapping):
            out = {}
            for key, value in obj.items():
                if self._is_secret_key(key) and isinstance(value, str | bytes | int | float) \
                        and not isinstance(value, bool):
                    out[key] = self._security.REDACTED
                else:
                    out[key] = self._walk(value, scan_all, depth + 1)
            return out
        if isinstance(obj, list | tuple | set | frozenset):
            return [self._walk(v, scan_all, depth + 1) for v in obj]
        if hasattr(obj, "model_dump"):
            return self._walk(obj.model_dump(mode="json"), scan_all, depth + 1)
        return self._walk(str(obj), scan_all, depth + 1)
