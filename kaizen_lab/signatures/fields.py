"""Field records of a signature, and the ``InputField``/``OutputField`` markers for class-based signatures."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["MISSING", "Confidence", "FieldSpec", "InputField", "OutputField", "is_confidence", "type_repr"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Role = Literal["input", "output"]


class Confidence(float):
    """Marks an output as the model's confidence in the answer: a probability in [0, 1] computed, not generated.

    Write it as the type of an output field, ``question: str -> answer: str, confidence: Confidence`` (or
    ``confidence: Confidence`` in a class or function signature). The model is never asked for this field:
    the agent fills it from the probabilities the model assigned to the tokens of the *answer*, the first
    output of the signature that is not itself a ``Confidence``. The value is the probability the model gave
    to that exact answer (the product of its tokens' probabilities; see ``docs/local-model.md``); its log is
    ``result.metadata.answer_logprob``.

    Only models that report token log-probabilities can fill it (the local model; OpenAI-compatible servers
    that honour ``logprobs``); any other model raises ``ConfidenceUnavailableError``. A plain
    ``confidence: float`` stays an ordinary output the model generates.
    """

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.float_schema(ge=0.0, le=1.0)


def is_confidence(annotation: Any) -> bool:
    """Whether a field's type is the ``Confidence`` marker (also inside ``Annotated[...]``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is Confidence


def type_repr(tp: Any) -> str:
    """A readable spelling of a type that the grammar parses back (``list[str]``, ``int | None``, ``Literal['a']``).

    User classes are spelled by their ``__name__``, so re-parsing needs them in the namespace.
    """
    if tp is None or tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None:
        if isinstance(tp, type):
            return tp.__name__
        return repr(tp).replace("typing.", "")
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_repr(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is typing.Annotated:
        return type_repr(args[0])
    name = getattr(origin, "__name__", None) or repr(origin).replace("typing.", "")
    if not args:
        return name
    inner = ", ".join("..." if a is Ellipsis else type_repr(a) for a in args)
    return f"{name}[{inner}]"


def _type_key(tp: Any) -> Any:
    try:
        hash(tp)
    except TypeError:
        return ("repr", repr(tp))
    return tp


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One typed field of a signature.

    ``annotation`` is the resolved Python type; ``type_text`` its spelling as written (kept for ``str()``;
    derived from ``annotation`` when left empty). Equality compares the resolved type, so ``List[int]`` and
    ``list[int]`` give equal fields.
    """

    name: str
    annotation: Any = str
    type_text: str = ""
    description: str = ""
    default: Any = MISSING
    role: Role = "input"
    constraints: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.type_text:
            object.__setattr__(self, "type_text", type_repr(self.annotation))

    @property
    def required(self) -> bool:
        """True when the field has no default."""
        return self.default is MISSING

    def _key(self) -> tuple[Any, ...]:
        default = self.default if self.default is MISSING else repr(self.default)
        return (self.name, _type_key(self.annotation), self.description, default, self.role, self.constraints)

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


# pydantic ``Field`` keywords that make sense as value constraints of a signature field
CONSTRAINTS = frozenset({"gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern", "strict",
                         "allow_inf_nan", "max_digits", "decimal_places", "examples", "title"})


def _marker(role: Role, desc: str, default: Any, constraints: dict[str, Any]) -> _FieldMarker:
    for key in constraints:
        if key not in CONSTRAINTS:
            from kaizen_lab.errors import SignatureError, did_you_mean

            raise SignatureError(f"unknown field constraint {key!r}{did_you_mean(key, CONSTRAINTS)}; "
                                 f"use one of {sorted(CONSTRAINTS)}")
    return _FieldMarker(role, desc, default, constraints)


def InputField(desc: str = "", *, default: Any = MISSING, **constraints: Any) -> Any:  # noqa: N802 - DSPy spelling
    """Mark a class attribute as an input field of a class-based signature.

    Args:
        desc: what the field holds (shown to the model).
        default: makes the field optional.
        **constraints: pydantic value constraints such as ``ge=0``, ``max_length=200``.
    """
    return _marker("input", desc, default, constraints)


def OutputField(desc: str = "", *, default: Any = MISSING, **constraints: Any) -> Any:  # noqa: N802
    """Mark a class attribute as an output field of a class-based signature (same arguments as ``InputField``)."""
    return _marker("output", desc, default, constraints)
