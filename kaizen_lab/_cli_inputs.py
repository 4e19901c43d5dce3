"""``NAME=VALUE`` pairs from the command line to typed inputs (shared by ``kaizen-lab run`` and ``call``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kaizen_lab.errors import UserError

__all__ = ["parse_input_pairs"]


def parse_input_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``["question=hi", "k=3", "tags=[1,2]"]`` → ``{"question": "hi", "k": 3, "tags": [1, 2]}``.

    JSON numbers, booleans, lists and objects are decoded; anything else stays text.
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--input takes NAME=VALUE, got {pair!r}")
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = raw
        values[name] = decoded if isinstance(decoded, dict | list | int | float | bool) else raw
    return values
