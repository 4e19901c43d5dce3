"""Find secrets in code the export copies, without ever touching the code.

Only what *holds* a value is examined: string literals and comments (through the redactor's own credential
patterns), and a credential-like string literal stored under a secret-looking name (``API_KEY = "..."``,
``{"password": "..."}``, ``connect(token="...")``; markers such as ``pad_token = "<pad>"`` or short lower-case
words are not credentials). Code that merely mentions ``token``, ``Authorization``, ``password`` or a hex
digest is ordinary code and passes.
"""

from __future__ import annotations

import ast
import io
import tokenize

from kaizen_lab.redact import is_secret_key, redact_text

__all__ = ["secrets_in_code", "secrets_in_text"]

_VALUE_TOKENS = {tokenize.STRING, tokenize.COMMENT} | ({tokenize.FSTRING_MIDDLE}  # type: ignore[attr-defined]
                                                       if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def secrets_in_text(text: str) -> bool:
    """Whether the redactor would change ``text`` (it holds a credential-shaped value)."""
    return redact_text(text) != text


def secrets_in_code(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every secret-looking value in ``source`` (lines are 1-based within ``source``)."""
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in _VALUE_TOKENS and secrets_in_text(tok.string):
                kind = "a comment" if tok.type == tokenize.COMMENT else "a string"
                found.setdefault(tok.start[0], f"{kind} holding a credential")
    except (tokenize.TokenError, SyntaxError):
        pass  # the source parsed with ast already; tokenize differs only on exotic input
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return sorted(found.items())
    for node in ast.walk(tree):
        for name, value in _stored(node):
            if is_secret_key(name) and isinstance(value, ast.Constant) and isinstance(value.value, str) \
                    and _credential_like(value.value):
                found.setdefault(value.lineno, f"the text stored in {name!r}")
    return sorted(found.items())


def _credential_like(value: str) -> bool:
    """A value that could be a credential, not a marker such as ``pad_token = "<pad>"`` or ``auth = "basic"``."""
    value = value.strip()
    if len(value) < 6 or any(c.isspace() for c in value) or value[0] in "<[{(":
        return False
    return not (value.isalpha() and value.islower() and len(value) < 12)


def _stored(node: ast.AST) -> list[tuple[str, ast.expr]]:
    """(name, value) pairs a node stores: assignments, keyword arguments and dict entries."""
    if isinstance(node, ast.Assign):
        return [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)] + \
               [(t.attr, node.value) for t in node.targets if isinstance(t, ast.Attribute)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [(node.target.id, node.value)]
    if isinstance(node, ast.keyword) and node.arg:
        return [(node.arg, node.value)]
    if isinstance(node, ast.Dict):
        return [(k.value, v) for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []
