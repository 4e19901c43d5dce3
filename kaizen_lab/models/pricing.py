"""Cost of a model request from its token usage.

Prices are US dollars per 1M tokens, ``(input, output)``: published list prices of common hosted models at the
time of writing. They change; override them in configuration (``prices: {"openai:gpt-4o": {input: 2.5,
output: 10}}``), with ``set_prices``, or per model (``OpenAIModel(..., prices=...)``).

``cost_for`` returns ``None`` when a model's price is unknown (local servers, unlisted models): an unknown cost
is never reported as 0.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from kaizen_lab.errors import ConfigError
from kaizen_lab.models.base import Usage

__all__ = ["PRICES", "Price", "cost_for", "price_for", "set_prices"]

Price = tuple[float, float]

#: built-in table: model name (or ``provider:name``) -> (input, output) USD per 1M tokens
PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o1": (15.00, 60.00),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-3-haiku": (0.25, 1.25),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4-5": (5.00, 25.00),
}

_SNAPSHOT = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|\d{4}|latest)")
_overrides: dict[str, Price] = {}
_lock = threading.Lock()


def _as_price(key: str, value: Any) -> Price:
    if isinstance(value, Mapping):
        try:
            return float(value["input"]), float(value["output"])
        except (KeyError, TypeError, ValueError):
            pass
    elif isinstance(value, list | tuple) and len(value) == 2:
        try:
            return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            pass
    raise ConfigError(f"prices.{key}: expected {{input: <USD per 1M tokens>, output: <USD per 1M tokens>}}, "
                      f"got {value!r}", path=f"prices.{key}", value=value)


def normalize_prices(prices: Mapping[str, Any] | None) -> dict[str, Price]:
    """Validate a ``prices`` mapping (``{name: {input, output}}`` or ``{name: (input, output)}``)."""
    return {str(k): _as_price(str(k), v) for k, v in (prices or {}).items()}


def set_prices(prices: Mapping[str, Any] | None, *, replace: bool = False) -> None:
    """Add (or with ``replace=True`` set) process-wide price overrides, e.g. from configuration."""
    parsed = normalize_prices(prices)
    with _lock:
        if replace:
            _overrides.clear()
        _overrides.update(parsed)


def _lookup(table: Mapping[str, Price], label: str, name: str) -> Price | None:
    for key in (label, name):
        if key in table:
            return table[key]
    # dated snapshots ("gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022") take their model's price; any
    # other suffix ("claude-opus-4-6", "gpt-4o-audio-preview") is another model, priced differently: unknown
    for key in table:
        bare = key.rpartition(":")[2] if ":" in key else key
        if ":" in key and key.partition(":")[0] != label.partition(":")[0]:
            continue
        if name.startswith(bare) and _SNAPSHOT.fullmatch(name[len(bare):]):
            return table[key]
    return None


def price_for(model_label: str, prices: Mapping[str, Any] | None = None) -> Price | None:
    """``(input, output)`` USD per 1M tokens for ``provider:name`` (or a bare name), or ``None`` if unknown.

    Looks in ``prices`` first, then the process-wide overrides, then the built-in table.
    """
    name = model_label.partition(":")[2] if ":" in model_label else model_label
    for table in (normalize_prices(prices) if prices else None, _overrides, PRICES):
        if table:
            found = _lookup(table, model_label, name)
            if found is not None:
                return found
    return None


def cost_for(model_label: str, usage: Usage, prices: Mapping[str, Any] | None = None) -> float | None:
    """US dollars for ``usage`` on ``model_label``; ``None`` (never 0) when the price is unknown."""
    price = price_for(model_label, prices)
    if price is None:
        return None
    return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1_000_000
