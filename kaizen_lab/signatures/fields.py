"""Field records of a signature, and the ``InputField``/``OutputField`` markers for class-based signatures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["MISSING", "FieldSpec", "InputField", "OutputField", "type_repr"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Role = Literal["input", "output"]


def type_repr(tp: Any) -> str:
    """A readable, re-parseable spelling of a type (``list[str]``, ``int | None``, ``Literal['a', 'b']``)."""
    if isinstance(tp, type) and not getattr(tp, "__args__", None):
        return tp.__name__
    text = repr(tp)
    for prefix in ("typing.", "datetime.", "builtins."):
        text = text.replace(prefix, "")
    return text.replace("NoneType", "None")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One typed field of a signature.

    ``annotation`` is the resolved Python type; ``type_text`` its spelling as written (kept for ``str()``).
    """

    name: str
    annotation: Any = str
    type_text: str = "str"
    description: str = ""
    default: Any = MISSING
    role: Role = "input"
    constraints: tuple[tuple[str, Any], ...] = ()

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def _key(self) -> tuple[Any, ...]:
        default = self.default if self.default is MISSING else repr(self.default)
        return (self.name, self.type_text, self.description, default, self.role, self.constraints)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, slots=True)
class _FieldMarker:
    role: Role
    desc: str = ""
    default: Any = MISSING
    constraints: dict[str, Any] = field(default_factory=dict)


def InputField(desc: str = "", *, default: Any = MISSING, **constraints: Any) -> Any:  # noqa: N802 - DSPy spelling
    """Mark a class attribute as an input field of a class-based signature."""
    return _FieldMarker("input", desc, default, constraints)


def OutputField(desc: str = "", *, default: Any = MISSING, **constraints: Any) -> Any:  # noqa: N802
    """Mark a class attribute as an output field of a class-based signature."""
    return _FieldMarker("output", desc, default, constraints)
