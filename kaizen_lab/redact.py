"""Secret redaction for traces, exports, logs and error messages (the ground floor: ``errors``, tracing, export
and ``kaizen_lab.security`` all use this one module).

Imported on hot paths (every recorded event, every error message), so it uses the standard ``re`` module
(plus, on first use, RE2 for the yes/no pre-check and the Aho-Corasick automaton of ``pyahocorasick`` for which
rules to run) and compiles its patterns once. Three
mechanisms work together:

* one pre-check (``may_hold_secret``): a single pass finds the literal markers each built-in pattern needs
  (``sk-``, ``bearer``, ``eyJ``, ``://``, a secret-looking word before ``:``/``=`` ...); only the patterns whose
  markers occur run, and text without any marker is left as it is;
* text patterns: well-known credential shapes (OpenAI/Anthropic keys, bearer and Basic credentials, JWTs, AWS
  access key ids and secret keys, labelled or not, GitHub, Slack, Google keys, private-key blocks, passwords
  inside URLs) and generic ``password=...``-style assignments;
* secret-looking keys: in ``redact(obj)`` every scalar stored under a key such as ``api_key``, ``token``,
  ``password`` or ``authorization`` is replaced whatever it looks like.

Replacements keep the label (``Bearer [REDACTED]``, ``api_key=[REDACTED]``) so the output stays readable, and
redacting twice gives the same text. Ordinary text stays as it is: a single everyday word after ``label:``
("token: the", "Secret: santa") is prose, a mention of a PEM ``BEGIN`` line without key material is not a key,
and hyphenated names such as ``sk-learn-pipeline`` are not API keys (see ``docs/security.md`` for the limits).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

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

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class _Rule:
    """A built-in rule: its regex, the literal substrings without which it cannot match (none: it always
    runs), whether it runs on the lower-cased text, whether a trigger counts only when a ``:`` or ``=`` follows
    it (after quotes and white space), and an optional check that a match really is a secret (given the match
    and the text in its original case; ``False`` keeps the text as it is)."""

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    lowercase: bool = False
    check: Callable[[re.Match[str], str], bool] | None = None
    assigned: bool = False

    def keep(self, match: re.Match[str]) -> str:
        return (match.group("keep") or "") if "keep" in self.pattern.groupindex else ""


def _rule(name: str, pattern: str, *triggers: str, lowercase: bool = False,
          check: Callable[[re.Match[str], str], bool] | None = None, assigned: bool = False) -> _Rule:
    return _Rule(name, re.compile(pattern), triggers, lowercase, check, assigned)


# An everyday word ("token: the", "password: must", "cookie: chocolate", "Secret: santa"): a lower-case,
# Capitalised or upper-case run of letters. After ``label:`` in running text such a value is prose; after ``=``,
# in quotes or after an auth scheme it is still taken for a secret.
_PROSE_WORD = re.compile(r"[A-Za-z][a-z]{0,14}|[A-Z]{2,15}")


def _assignment_is_secret(match: re.Match[str], text: str) -> bool:
    if match.group("sep") == "=" or match.group("kq") or match.group("vq") or match.group("scheme"):
        return True
    value = text[match.start("value"):match.end("value")].rstrip(".!?:")
    return _PROSE_WORD.fullmatch(value) is None


def _openai_is_secret(match: re.Match[str], text: str) -> bool:
    # real keys are long random runs: at least 16 characters without a hyphen ("sk-learn-pipeline-x" has none)
    return any(len(part) >= 16 for part in match.group("body").split("-"))


def _random_40(match: re.Match[str], text: str) -> bool:
    # An AWS secret access key is 40 random base64 characters. Paths, identifiers and words are not random:
    # all letters (apart from slashes and a numeric suffix) with many vowels, or many slashes.
    value = match.group()
    if not (any(c.isupper() for c in value) and any(c.islower() for c in value)):
        return False  # hex digests and upper-case ids
    if len(set(value)) < 16 or value.count("/") > 5:
        return False
    vowels = sum(c in "aeiouAEIOU" for c in value)
    wordy = value.rstrip("0123456789").replace("/", "").isalpha() and vowels >= 10
    return not wordy and vowels < 18


# A named group ``keep`` is copied to the output before the replacement. Regexes with a leading ``\b`` or an
# alternation scan slowly in ``re``, so each rule runs only when one of its literal triggers occurs in the text
# (see ``_scan``). Each rule refuses to match an existing ``[REDACTED]`` so redacting twice changes nothing.
_B64 = r"[A-Za-z0-9+/=]"
# The words a secret-looking key ends with: those of the ``assignment`` rule below and of ``is_secret_key``
# (``"auth": ...``, ``passphrase=`` in JSON or form text), so the pre-check also covers values that ``redact``
# blanks under such keys.
_KEY_WORDS = ("key", "secret", "token", "passwd", "password", "passphrase", "pwd", "credential", "credentials",
              "auth", "authorization", "cookie")
_RULES: tuple[_Rule, ...] = (
    # a whole PEM block; without its END line, the key material that follows (a cut-off key). A mere mention of
    # the BEGIN line followed by ordinary text is not a key and stays.
    _rule("private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:(?:\s*[A-Za-z-]+:[^\n]*)*[A-Za-z0-9+/=\s]*"
                         r"-----END [A-Z ]*PRIVATE KEY-----|(?:\s*" + _B64 + r"{40,})+)",
          "PRIVATE KEY-----"),
    _rule("url_password", r"(?P<keep>://[^\s:/@]+:)(?!\[REDACTED\])[^\s@/]+(?=@)", "://"),
    _rule("bearer", r"(?P<keep>\b[Bb]earer\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]{8,}=*", "earer"),
    _rule("jwt", r"\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*", "eyJ"),
    _rule("anthropic", r"\bsk-ant-[A-Za-z0-9_-]{16,}", "sk-ant-"),
    _rule("openai", r"\bsk-(?:proj-|svcacct-|admin-|None-)?(?P<body>[A-Za-z0-9_-]{16,})", "sk-",
          check=_openai_is_secret),
    _rule("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
          "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA"),
    _rule("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
          "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    _rule("slack", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "xox"),
    _rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", "AIza"),
    _rule("stripe", r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}", "_live_", "_test_"),
    _rule("kaizen_api_key", r"\bkz_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", "kz_"),
    # key = value / "key": "value" / key: value, where the key ENDS at a secret word (``max_tokens=`` and
    # ``token_ttl_seconds=`` are not secrets: the word must be followed by the separator). Runs on the
    # lower-cased text, so the literals below are lower case.
    _rule("assignment",
          r"(?P<keep>(?:api[_-]?key|apikey|secret(?:[_-]?key)?|token|passwd|password|pwd|access[_-]?key|"
          r"private[_-]?key|credentials?|authorization|cookie|session[_-]?key)(?P<kq>[\"']?)"
          r"\s*(?P<sep>[:=])\s*(?P<vq>[\"']?)(?P<scheme>(?:bearer|basic|digest|token)\s+)?+)"
          r"(?!\[redacted\])(?!(?:none|null|true|false)\b)(?P<value>[^\s\"'&,;}\])]+)",
          *_KEY_WORDS, lowercase=True, check=_assignment_is_secret, assigned=True),
    # an unlabelled AWS secret access key: a run of exactly 40 base64 characters (hex digests fail the check)
    _rule("aws_secret_key", r"(?<![A-Za-z0-9/+=_.-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_.-])", check=_random_40),
)
_ALWAYS = frozenset(i for i, r in enumerate(_RULES) if not r.triggers)
# base64 characters -> "a", everything else -> " ": a 40-character run shows as 40 "a"s. Translating bytes is
# some twenty times cheaper than scanning with the rule's regex, which then runs only on the few texts with a run.
_B64_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
_RUN_TABLE = bytes(0x61 if i in _B64_BYTES else 0x20 for i in range(256))
_RUN_40 = b"a" * 40


def may_hold_bare_secret(text: str) -> bool:
    """Whether ``text`` may hold a secret that no literal marker announces (an unlabelled AWS secret key: a
    run of 40 base64 characters); a cheap pre-check for callers that skip text without markers."""
    return len(text) >= 40 and _RUN_40 in text.encode("ascii", "replace").translate(_RUN_TABLE)


_automaton: Any = None


def _triggers() -> Any:
    """One Aho-Corasick automaton over every rule's triggers, lower-cased (a superset for the case-sensitive
    rules): each word maps to (rules it starts unconditionally, rules it starts when assigned)."""
    global _automaton
    if _automaton is None:
        import ahocorasick

        words: dict[str, tuple[set[int], set[int]]] = {}
        for i, rule in enumerate(_RULES):
            for trigger in rule.triggers:
                plain, assigned = words.setdefault(trigger.lower(), (set(), set()))
                (assigned if rule.assigned else plain).add(i)
        automaton = ahocorasick.Automaton()
        for word, (plain, assigned) in words.items():
            automaton.add_word(word, (frozenset(plain), frozenset(assigned)))
        automaton.make_automaton()
        _automaton = automaton
    return _automaton


def _is_assigned(lowered: str, j: int) -> bool:
    """Whether ``:`` or ``=`` follows position ``j`` after quotes and white space (as the rules' ``\\s*``)."""
    n = len(lowered)
    while j < n and (lowered[j] in "\"'" or lowered[j].isspace()):
        j += 1
    return j < n and lowered[j] in ":="


def _scan(text: str, lowered: str) -> set[int]:
    """The built-in rules that may match ``text`` (``lowered`` is ``text.lower()``): the pre-check behind
    ``Redactor.text``."""
    active: set[int] = set(_ALWAYS) if may_hold_bare_secret(text) else set()
    for end, (plain, assigned) in _triggers().iter(lowered):
        if plain:
            active.update(plain)
        if assigned and not assigned <= active and _is_assigned(lowered, end + 1):
            active.update(assigned)
    return active


_any_trigger: Any = None


def _any_trigger_pattern() -> Any:
    """The automaton's question as one RE2 pattern: any plain trigger, or an assigned trigger followed by quotes
    and white space (all that ``str.isspace`` counts) and ``:``/``=``. RE2 answers it in one linear pass in C,
    several times faster than walking the automaton's matches (each a Python step) over a run's payloads."""
    global _any_trigger
    if _any_trigger is None:
        import re2

        plain: set[str] = set()
        assigned: set[str] = set()
        for rule in _RULES:
            (assigned if rule.assigned else plain).update(t.lower() for t in rule.triggers)
        space = "[\"'\\s\\x0b\\x1c-\\x1f\\x85\\p{Z}]*"
        alternatives = [re.escape(t) for t in sorted(plain)]
        if assigned:
            alternatives.append(f"(?:{'|'.join(re.escape(t) for t in sorted(assigned))}){space}[:=]")
        _any_trigger = re2.compile("|".join(alternatives))
    return _any_trigger


def may_hold_secret(text: str) -> bool:
    """False only when no built-in pattern can match ``text`` and no secret-looking key is assigned in it: the
    same pre-check as ``Redactor.text``'s, stopping at the first hit, for callers that keep text without
    markers as it is (the tracer's payloads)."""
    if not text:
        return False
    if may_hold_bare_secret(text):
        return True
    return _any_trigger_pattern().search(text.lower()) is not None


_SECRET_KEY = re.compile(
    r"(?:^|[_.-])(?:api[_-]?key|apikey|secret|secret[_-]?key|client[_-]?secret|token|access[_-]?token|"
    r"refresh[_-]?token|id[_-]?token|passwd|password|passphrase|pwd|access[_-]?key|private[_-]?key|"
    r"credentials?|auth|authorization|proxy[_-]?authorization|cookie|set[_-]?cookie|session[_-]?key|"
    r"encryption[_-]?key|signing[_-]?key|x[_-]api[_-]key)$",
    re.IGNORECASE,
)


def is_secret_key(key: Any) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``OPENAI_API_KEY``, ``Authorization``, ``token`` ...).

    Keys that merely contain such a word (``max_tokens``, ``token_ttl_seconds``, ``author``) are not secret.
    """
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as exc:
        from kaizen_lab.errors import ConfigError

        raise ConfigError(f"redaction pattern {pattern!r} is not a valid regular expression ({exc}); "
                          "fix the pattern (escape literal characters with re.escape)",
                          path="redact_patterns", value=pattern) from None


class Redactor:
    """A compiled set of redaction rules.

    Args:
        patterns: extra regular expressions; every match is replaced (a pattern with groups keeps group 1).
        replacement: the text put in place of a secret.
        builtin: include the built-in credential patterns.
        secret_keys: also blank values stored under secret-looking keys in ``redact(obj)``.
    """

    def __init__(self, patterns: Iterable[str | re.Pattern[str]] = (), *, replacement: str = REDACTED,
                 builtin: bool = True, secret_keys: bool = True) -> None:
        self.replacement = replacement
        self.secret_keys = secret_keys
        self._builtin = builtin
        self._extra: list[re.Pattern[str]] = [_compile(p) for p in patterns]
        self._lock = threading.Lock()

    def add(self, *patterns: str | re.Pattern[str]) -> Callable[[], None]:
        """Add patterns; returns a function that removes them again."""
        compiled = [_compile(p) for p in patterns]
        with self._lock:
            self._extra = [*self._extra, *compiled]

        def remove() -> None:
            with self._lock:
                remaining = list(self._extra)
                for pattern in compiled:
                    if pattern in remaining:
                        remaining.remove(pattern)
                self._extra = remaining

        return remove

    def text(self, text: str, *, extra: Iterable[str | re.Pattern[str]] = ()) -> str:
        """Return ``text`` with every secret replaced."""
        if not text:
            return text
        if self._builtin:
            # Replacements only remove triggers, so the set found on the input stays a safe superset.
            for i in sorted(_scan(text, text.lower())):
                rule = _RULES[i]
                if rule.lowercase:
                    text = self._sub_lowercase(rule, text, text.lower())
                else:
                    text = self._sub(rule, text)
        for pattern in (*self._extra, *(_compile(p) for p in extra)):
            keep = 1 if pattern.groups else 0
            text = pattern.sub(self._replacer(keep), text)
        return text

    def _replace(self, rule: _Rule, match: re.Match[str], text: str) -> str:
        if rule.check is not None and not rule.check(match, text):
            return match.group()
        return rule.keep(match) + self.replacement

    def _sub(self, rule: _Rule, text: str) -> str:
        return rule.pattern.sub(lambda m: self._replace(rule, m, text), text)

    def _sub_lowercase(self, rule: _Rule, text: str, lowered: str) -> str:
        if len(lowered) != len(text):  # a few non-ASCII letters change length when lower-cased
            ignore_case = re.compile(rule.pattern.pattern.replace("redacted", "REDACTED"), re.IGNORECASE)
            return ignore_case.sub(lambda m: self._replace(rule, m, text), text)
        pieces: list[str] = []
        last = 0
        for match in rule.pattern.finditer(lowered):
            if rule.check is not None and not rule.check(match, text):
                continue
            start = match.start()
            keep_end = match.end("keep") if "keep" in rule.pattern.groupindex else start
            pieces.append(text[last:keep_end])  # the original spelling of the kept label
            pieces.append(self.replacement)
            last = match.end()
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)

    def _replacer(self, keep: int) -> Callable[[re.Match[str]], str]:
        replacement = self.replacement
        if keep == 0:
            return lambda m: replacement
        return lambda m: (m.group(1) or "") + replacement

    def obj(self, obj: Any, *, extra: Iterable[str | re.Pattern[str]] = ()) -> Any:
        """Return a redacted copy of ``obj`` (strings, dicts, lists, tuples, sets; other values as they are)."""
        return self._obj(obj, tuple(_compile(p) for p in extra), 0)

    def _obj(self, obj: Any, extra: tuple[re.Pattern[str], ...], depth: int) -> Any:
        if depth > 100:  # a cycle or absurd nesting: refuse to show what we cannot check
            return self.replacement
        if isinstance(obj, str):
            return self.text(obj, extra=extra)
        if isinstance(obj, bytes | bytearray):
            try:
                return self.text(bytes(obj).decode(), extra=extra).encode()
            except UnicodeDecodeError:
                return obj
        if isinstance(obj, Mapping):
            out = {}
            for key, value in obj.items():
                if self.secret_keys and is_secret_key(key) and _is_scalar_secret(value):
                    out[key] = self.replacement
                else:
                    out[key] = self._obj(value, extra, depth + 1)
            try:
                return cast(Any, type(obj))(out) if type(obj) is not dict else out
            except TypeError:
                return out
        if isinstance(obj, tuple):
            items = [self._obj(v, extra, depth + 1) for v in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        if isinstance(obj, list):
            return [self._obj(v, extra, depth + 1) for v in obj]
        if isinstance(obj, set | frozenset):
            return type(obj)(self._obj(v, extra, depth + 1) for v in obj)
        return obj


def _is_scalar_secret(value: Any) -> bool:
    # None/bools carry no secret, and sections such as ``auth: {method: jwt}`` are walked, not blanked.
    return isinstance(value, str | bytes | bytearray | int | float) and not isinstance(value, bool)


_default = Redactor()


def default_redactor() -> Redactor:
    """The process-wide redactor used by ``redact_text``/``redact`` (extend it with ``register_patterns``)."""
    return _default


def register_patterns(*patterns: str | re.Pattern[str]) -> Callable[[], None]:
    """Add patterns (e.g. from ``security.redact_patterns`` config) to the default redactor; returns a remover."""
    return _default.add(*patterns)


def redact_text(text: str, *, extra: Iterable[str | re.Pattern[str]] = ()) -> str:
    """Replace API keys, bearer tokens, JWTs, passwords and registered patterns in ``text`` with ``[REDACTED]``.

    Example:
        >>> redact_text("Authorization: Bearer abcdefghijklmnop")
        'Authorization: Bearer [REDACTED]'
    """
    return _default.text(text, extra=extra)


def redact(obj: Any, *, extra: Iterable[str | re.Pattern[str]] = ()) -> Any:
    """Redacted copy of ``obj``: strings are scanned, and values under secret-looking keys are blanked.

    Example:
        >>> redact({"api_key": "abc", "max_tokens": 5, "note": "token=xyz123"})
        {'api_key': '[REDACTED]', 'max_tokens': 5, 'note': 'token=[REDACTED]'}
    """
    return _default.obj(obj, extra=extra)
