"""Progress bars for work that takes time: loading the local model, batches, evaluations, optimizations.

``tqdm.auto`` draws them: a widget in a notebook kernel, text on a terminal. They stay silent where nobody
watches (a script whose stderr is a file or a pipe, CI logs) and when turned off: ``progress: false`` in the
configuration, ``KAIZEN_PROGRESS=false``, or ``progress=False`` on the call. ``progress=True`` forces them on.
A bar appears only once the work has taken ``DELAY`` seconds, so quick work (a test model answering in
microseconds, even on a loaded machine) leaves no trace in a notebook's outputs. tqdm is imported only when a bar may be drawn.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["DELAY", "Bar", "progress_bar", "progress_enabled"]

#: seconds of work before a bar shows
DELAY = 2.0
#: at most one redraw per this many seconds (tqdm's own default)
MININTERVAL = 0.1


def _configured() -> bool | None:
    try:
        from kaizen_lab.config import load_config

        value = load_config().progress
    except Exception:  # noqa: BLE001 - a broken config is reported where it is used, not by a progress bar
        return None
    return None if value is None else bool(value)


def _interactive() -> bool:
    """Someone is watching: an IPython shell or kernel is running, or stderr is a terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None:
        return True
    try:
        return bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def progress_enabled(setting: bool | None = None) -> bool:
    """Whether to draw a bar: the call's ``setting``, else the configuration, else whether it is interactive."""
    if setting is not None:
        return bool(setting)
    configured = _configured()
    if configured is not None:
        return configured
    return _interactive()


class Bar:
    """A tqdm bar, or nothing at all when progress is off (same methods, no output, tqdm never imported)."""

    def __init__(self, total: float | None, desc: str, *, unit: str = "it", enabled: bool | None = None,
                 leave: bool = False) -> None:
        self._bar: Any = None
        if progress_enabled(enabled):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, delay=DELAY, mininterval=MININTERVAL)

    @property
    def active(self) -> bool:
        return self._bar is not None

    def update(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def goto(self, value: float, note: str = "") -> None:
        """Move to ``value`` (of ``total``), optionally showing ``note`` after the bar."""
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(value - self._bar.n)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: float | None, desc: str, *, unit: str = "it", enabled: bool | None = None,
                 leave: bool = False) -> Bar:
    """A ``Bar`` for ``total`` steps (``None``: counts without a total)."""
    return Bar(total, desc, unit=unit, enabled=enabled, leave=leave)
