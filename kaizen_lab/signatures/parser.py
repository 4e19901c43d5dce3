"""``SignatureParser``: the roadmap's parser object, a thin face over ``Signature.parse``/``from_function``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kaizen_lab.signatures.signature import Signature

__all__ = ["SignatureParser"]


class SignatureParser:
    """Parse signatures from text or from a function's annotations.

    Args:
        namespace: names the field types may refer to (e.g. a notebook's ``globals()``).
    """

    def __init__(self, namespace: Mapping[str, Any] | None = None) -> None:
        self.namespace = namespace

    def parse_string_signature(self, spec: str, description: str = "") -> Signature:
        """``"question: str -> answer: str, confidence: float"`` (``description``: the instructions)."""
        return Signature.parse(spec, self.namespace, instructions=description or None)

    def parse_function_signature(self, func: Callable[..., Any]) -> Signature:
        """Inputs from the parameters, outputs from the return annotation, instructions from the docstring."""
        return Signature.from_function(func)
