"""The roadmap's ``SignatureParser`` and ``SignatureCompiler``: thin faces over ``Signature``'s own methods."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kaizen_lab.signatures.signature import Signature

__all__ = ["SignatureCompiler", "SignatureParser"]


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


class SignatureCompiler:
    """Compile signatures to Kailash workflows and render their prompts.

    Args:
        model: the model the compiled workflows call (a string such as ``"test"``, or a model object).
    """

    def __init__(self, model: Any = "test") -> None:
        self.model = model

    def compile_to_workflow(self, signature: Signature, **agent_config: Any) -> Any:
        """A ``WorkflowBuilder``: ``input`` (validate) → ``model`` (format, call, parse) → ``output``."""
        return signature.compile_to_workflow(self.model, **agent_config)

    def generate_prompt(self, signature: Signature) -> str:
        """The prompt the model is given for ``signature`` (``signature.generate_prompt()``)."""
        return signature.generate_prompt()
