"""Check an agent's options where they are given, so a wrong type fails at creation, naming the fix."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.models.base import ModelSettings

__all__ = ["check_count", "check_plain_options", "check_seconds", "check_settings"]


def check_count(name: str, value: Any) -> int:
    """A whole number of 0 or more (``True`` and ``"2"`` are refused)."""
    if type(value) is not int or value < 0:
        raise UserError(f"{name} must be a whole number of 0 or more, got {value!r}; e.g. {name}=2")
    return value


def check_seconds(name: str, value: Any) -> float | None:
    """``None`` or a finite number of seconds above 0."""
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a finite number of seconds above 0 (or None), got {value!r}; "
                        f"e.g. {name}=30")
    return value


_SETTINGS = {f.name: f.type for f in dataclasses.fields(ModelSettings)}


def check_settings(settings: Any) -> ModelSettings | None:
    """``None``, a ``ModelSettings`` or a mapping of its fields (unknown keys get a did-you-mean)."""
    if settings is None or isinstance(settings, ModelSettings):
        return settings
    if not isinstance(settings, Mapping):
        raise UserError(f"settings must be a dict such as {{'temperature': 0.2}} or a ModelSettings, got "
                        f"{type(settings).__name__}")
    for key, value in settings.items():
        if key not in _SETTINGS:
            raise UserError(f"unknown model setting {key!r}{did_you_mean(str(key), _SETTINGS)}; settings are "
                            f"{sorted(_SETTINGS)}")
        if value is None:
            continue
        if key in ("temperature", "top_p", "timeout"):
            ok = type(value) in (int, float) and math.isfinite(value) and value >= 0
        elif key in ("max_tokens", "seed", "top_logprobs"):
            ok = type(value) is int and (key == "seed" or value > 0 or (key == "top_logprobs" and value == 0))
        elif key == "logprobs":
            ok = type(value) is bool
        else:  # stop
            ok = isinstance(value, list | tuple) and all(isinstance(s, str) for s in value)
        if not ok:
            raise UserError(f"model setting {key}={value!r} has the wrong type; expected "
                            f"{_SETTINGS[key]}".replace(" | None", ""))
    data = dict(settings)
    if data.get("stop") is not None:
        data["stop"] = tuple(data["stop"])
    return ModelSettings(**data)


def check_plain_options(*, namespace: Any, instructions: Any, tools: Any) -> None:
    """The options whose type alone can be wrong: a namespace mapping, instruction text, a list of tools."""
    if namespace is not None and not isinstance(namespace, Mapping):
        raise UserError(f"namespace must be a dict of names (e.g. globals()), got {type(namespace).__name__}")
    if instructions is not None and not isinstance(instructions, str):
        raise UserError(f"instructions must be text, got {type(instructions).__name__}")
    if tools is not None and (isinstance(tools, str | bytes | Mapping) or not hasattr(tools, "__iter__")):
        raise UserError(f"tools must be a list of functions, e.g. tools=[search], got {type(tools).__name__}")
