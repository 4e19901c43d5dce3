"""Split a magic's line into flags, positionals and ``key=value`` inputs.

``%agent run qa question="What is 2+2?" n=3 data=my_var -o`` → positionals ``["run", "qa"]``, inputs
``{"question": "What is 2+2?", "n": 3, "data": <my_var>}``, flags ``["-o"]``. Values are Python expressions
evaluated in the notebook namespace, so literals and variables both work.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Mapping
from typing import Any

from kaizen_lab.errors import UserError

__all__ = ["SplitLine", "split_line"]

_TOKEN = re.compile(r"""(?:[^\s"']+|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')+""")
_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


class SplitLine:
    def __init__(self, positionals: list[str], inputs: dict[str, Any], flags: str) -> None:
        self.positionals = positionals
        self.inputs = inputs
        self.flags = flags


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        try:
            return str(ast.literal_eval(token))
        except (ValueError, SyntaxError):
            return token[1:-1]
    return token


def split_line(line: str, namespace: Mapping[str, Any], *, value_flags: tuple[str, ...] = ()) -> SplitLine:
    """Split ``line``; ``value_flags`` are flags that take one value (``-v NAME``, ``--model M``)."""
    if line.count('"') % 2 or (line.count("'") % 2 and '"' not in line):
        raise UserError("cannot split the magic's arguments: a quote is not closed; close every quote")
    # whitespace splits tokens except inside quotes; the quotes stay, so values remain Python literals
    tokens = _TOKEN.findall(line)
    positionals: list[str] = []
    inputs: dict[str, Any] = {}
    flags: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("-") and len(tok) > 1 and (tok[1].isalpha() or tok[1] == "-"):
            flags.append(tok)
            if tok in value_flags and "=" not in tok and i + 1 < len(tokens):
                flags.append(tokens[i + 1])
                i += 1
        elif (m := _KEY.match(tok)) is not None and not tok.startswith(("'", '"')):
            key, expr = m.groups()
            try:
                inputs[key] = eval(expr, dict(namespace))  # noqa: S307 - the user's own notebook expression
            except SyntaxError as exc:
                raise UserError(f"the value of {key!r} is not a Python expression: {expr!r}; quote text, "
                                f'e.g. {key}="some text"') from exc
            except NameError as exc:
                raise UserError(f"the value of {key!r} names an unknown variable ({exc}); quote text, "
                                f'e.g. {key}="{expr}"') from exc
            except Exception as exc:  # noqa: BLE001 - the user's expression may raise anything (1/0, d["k"])
                raise UserError(f"the value of {key!r} failed: {type(exc).__name__}: {exc}; fix the expression "
                                f'or quote text, e.g. {key}="some text"') from exc
        else:
            positionals.append(_unquote(tok))
        i += 1
    return SplitLine(positionals, inputs, " ".join(shlex.quote(_unquote(f)) for f in flags))
