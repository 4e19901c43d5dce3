"""Short errors in the notebook: kaizen-lab's errors show their message (which names the fix), not 70 lines of
frames from inside the library.

``%load_ext kaizen_lab`` installs ``short_traceback`` as IPython's handler for ``KaizenError`` (through
``set_custom_exc``, so the kernel still reports the cell as failed and Run All stops). The full chain stays one
command away: ``%kaizen traceback`` prints it for the last error, and ``%xmode Verbose`` brings back IPython's
own tracebacks for every error. An error whose card a magic already displayed shows one line pointing at it.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["CARD_SHOWN", "FullTraceback", "install", "last_error", "short_lines", "uninstall"]

#: set on an exception whose error card is already the cell's display
CARD_SHOWN = "_kaizen_card_shown"
HINT = "(%kaizen traceback shows the full chain; %xmode Verbose shows it for every error)"


def short_lines(exc: BaseException) -> list[str]:
    """The short form: ``Type: message`` (every line of it, carets included) and how to see more."""
    name = type(exc).__name__
    lines = str(exc).splitlines() or [""]
    if getattr(exc, CARD_SHOWN, False):
        return [f"{name}: {lines[0]} (see the card above; %kaizen traceback shows the full chain)"]
    return [f"{name}: {lines[0]}", *lines[1:], HINT]


def _handler(shell: Any, etype: type[BaseException], value: BaseException, tb: Any,
             tb_offset: int | None = None) -> list[str]:
    # as IPython does for the errors it formats itself: %debug and %kaizen traceback find the error here
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if hasattr(sys, "last_exc"):
        sys.last_exc = value
    if getattr(shell.InteractiveTB, "mode", "") == "Verbose":
        stb = list(shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset))
    else:
        stb = short_lines(value)
    # IPython leaves the display to a custom handler; a kernel's _showtraceback sends the error message
    shell._showtraceback(etype, value, stb)
    return stb


def install(shell: InteractiveShell) -> None:
    """Show ``KaizenError`` (and subclasses) in the short form on ``shell``."""
    from kaizen_lab.errors import KaizenError

    shell.set_custom_exc((KaizenError,), _handler)


def uninstall(shell: InteractiveShell) -> None:
    """Give ``KaizenError`` back to IPython's own traceback formatter."""
    from kaizen_lab.errors import KaizenError

    if KaizenError in tuple(getattr(shell, "custom_exceptions", ())):
        shell.set_custom_exc((), None)


def last_error() -> BaseException | None:
    """The last error shown in the session (kaizen-lab's or any other)."""
    return getattr(sys, "last_value", None)


class FullTraceback:
    """The whole chain of an error (causes and contexts, every frame) as plain text, without ANSI codes."""

    def __init__(self, exc: BaseException | None) -> None:
        self.error = exc

    def __repr__(self) -> str:
        if self.error is None:
            return "no error yet in this session"
        return "".join(traceback.format_exception(self.error)).rstrip("\n")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        return {"text/plain": repr(self),
                "text/html": f"<pre class='kaizen-traceback'>{html.escape(repr(self))}</pre>"}
