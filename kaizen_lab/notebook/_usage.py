"""Forgiving option handling for the magics: typos get a suggestion, ``--help`` answers, ``--mo`` completes.

IPython's ``parse_argstring`` answers a misspelt option with a bare ``UsageError`` and treats ``--help`` as one;
``parse_args`` turns both into something a newcomer can act on.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring

from kaizen_lab.errors import UserError, did_you_mean

__all__ = ["HelpText", "option_strings", "parse_args", "wants_help"]


class HelpText:
    """A magic's help shown as the cell's output (``%agent --help``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        return {"text/plain": self.text, "text/html": f"<pre class='kaizen-help'>{html.escape(self.text)}</pre>"}


def option_strings(magic: Any) -> list[str]:
    """Every option a magic accepts (``--model``, ``-m``, ...), long ones first."""
    found = [s for action in magic.parser._actions for s in action.option_strings]
    return sorted(found, key=lambda s: (not s.startswith("--"), s))


def wants_help(words: list[str] | str) -> bool:
    tokens = words.split() if isinstance(words, str) else words
    return any(t in ("--help", "-h") for t in tokens)


def parse_args(magic: Any, argstring: str, name: str) -> Any:
    """``parse_argstring`` with typos turned into a ``UserError`` that suggests the option meant."""
    try:
        return parse_argstring(magic, argstring)
    except UsageError as exc:
        message = str(exc)
        options = option_strings(magic)
        unknown = [w for w in argstring.split() if w.startswith("-") and w.split("=", 1)[0] not in options]
        if unknown:
            word = unknown[0].split("=", 1)[0]
            hint = did_you_mean(word, options) or f" (options: {', '.join(o for o in options if o[:2] == '--')})"
            raise UserError(f"{name} has no option {word!r}{hint}; {name} --help lists them") from None
        raise UserError(f"{name}: {message}; {name} --help shows the usage") from None
    except ValueError as exc:  # shlex: "No closing quotation"
        raise UserError(f"{name}: cannot split the line ({str(exc).lower()}); close every quote") from None
