"""YAML from untrusted text, with limits: size, nesting depth and the size *after* alias expansion.

PyYAML's safe loader never runs code, but it happily builds a "billion laughs" document: nine anchors of nine
aliases each load in microseconds as shared objects and then explode when the data is printed, dumped or
validated. No maintained loader offers limits, so this one guards PyYAML's own composer: every composed node
counts the nodes it stands for (an alias counts everything its anchor holds), and composing stops with a
``ConfigError`` once the document would expand past ``max_nodes`` or nest deeper than ``max_depth``. Numbers
that Python refuses to convert (more than 4,300 digits) become the same typed error.
"""

from __future__ import annotations

import re
from typing import Any

from kaizen_lab.errors import ConfigError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "load_yaml"]

MAX_BYTES = 1_000_000
MAX_DEPTH = 100
MAX_NODES = 100_000


def load_yaml(text: str, *, where: str = "the YAML text", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              max_nodes: int = MAX_NODES) -> Any:
    """Load one YAML document from ``text`` (safe types only) within the limits, or raise ``ConfigError``."""
    import yaml

    if len(text) > max_bytes:
        raise ConfigError(f"{where} is {len(text):,} characters long, over the {max_bytes:,} limit; "
                          "split it or keep large data in a separate file")
    if _bracket_depth(text) > max_depth:
        raise ConfigError(f"{where} nests deeper than {max_depth} levels; flatten it")
    loader = None
    try:
        loader = _limited_loader_class()(text)  # the reader refuses control characters right here
        loader.limits = (where, max_depth, max_nodes)
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split("\n")[0].split())
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"invalid YAML in {where}{at}: {problem}") from None
    except ValueError as exc:  # int('9' * 5000): Python's digit limit
        reason = "a number has more than 4,300 digits" if "digits" in str(exc) else str(exc).split(";")[0]
        raise ConfigError(f"invalid value in {where}: {reason}; write very long numbers as quoted text") from None
    except RecursionError:
        raise ConfigError(f"{where} nests too deeply; keep it under {max_depth} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def _bracket_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting, counting every bracket (quoted or not).

    PyYAML's scanner is quadratic in the number of open flow collections (each keeps a possible simple key
    that is re-checked on every token), so 2,000 ``[`` take seconds before the composer sees any depth. This
    linear pre-check refuses such text first; it may over-count brackets inside quoted text, which matters
    only for text holding more than ``MAX_DEPTH`` unclosed brackets.
    """
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


_BRACKETS = re.compile(r"[\[\]{}]")
_LOADER: type | None = None


def _limited_loader_class() -> type:
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class LimitedSafeLoader(yaml.SafeLoader):
        limits: tuple[str, int, int] = ("the YAML text", MAX_DEPTH, MAX_NODES)

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0
            self._total = 0
            self._sizes: dict[int, int] = {}  # id(node) -> nodes it expands to

        def compose_node(self, parent: Any, index: Any) -> Any:
            where, max_depth, max_nodes = self.limits
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                node = super().compose_node(parent, index)
                size = self._sizes.get(id(node))
                if size is None:  # an alias to a collection still being composed: a recursive document
                    raise ConfigError(f"{where} refers to anchor &{event.anchor} inside itself (line "
                                      f"{event.start_mark.line + 1}); recursive YAML is not accepted")
                self._count(size, where, max_nodes)
                return node
            self._depth += 1
            if self._depth > max_depth:
                raise ConfigError(f"{where} nests deeper than {max_depth} levels; flatten it")
            before = self._total
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            self._count(1, where, max_nodes)
            self._sizes[id(node)] = self._total - before
            return node

        def _count(self, n: int, where: str, max_nodes: int) -> None:
            self._total += n
            if self._total > max_nodes:
                raise ConfigError(f"{where} expands to more than {max_nodes:,} values (anchors and aliases "
                                  "included); a document that multiplies itself through aliases is refused")

    _LOADER = LimitedSafeLoader
    return _LOADER
