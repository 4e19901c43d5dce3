"""JSON-Schema constrained decoding with llguidance.

llguidance compiles the schema into a grammar and, at each step, gives the set of tokens that keep the output a
prefix of some valid document, plus the tokens the grammar forces outright ("fast-forward" tokens, e.g. the
keys of a required object). Sampling only among allowed tokens makes every finished answer parse and validate.

Two bounds keep a small model from looping forever inside a value: strings without a ``maxLength`` get one,
arrays without ``maxItems`` get one; objects with listed ``properties`` get ``additionalProperties: false``
(a small model otherwise invents keys). These only narrow the schema, so the output still validates against
the caller's original schema. JSON is compact (no free whitespace): whitespace runs are a classic way for a small
model to stall inside a grammar.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from kaizen_lab.errors import UserError

__all__ = ["DEFAULT_MAX_ITEMS", "DEFAULT_MAX_LENGTH", "JsonConstraint", "bound_schema", "compile_json_schema"]

DEFAULT_MAX_LENGTH = 200
DEFAULT_MAX_ITEMS = 8
_NESTED = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SINGLE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def bound_schema(schema: dict[str, Any], *, max_length: int = DEFAULT_MAX_LENGTH,
                 max_items: int = DEFAULT_MAX_ITEMS) -> dict[str, Any]:
    """A copy of ``schema`` where unbounded strings and arrays get ``maxLength`` / ``maxItems``."""
    out = copy.deepcopy(schema)

    def walk(node: Any, close: bool = True) -> None:
        if not isinstance(node, dict):
            return
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        unconstrained_string = "enum" not in node and "const" not in node and "pattern" not in node \
            and "format" not in node
        if "string" in types and unconstrained_string and "maxLength" not in node:
            node["maxLength"] = max(max_length, int(node.get("minLength", 0)))
        if "array" in types and "maxItems" not in node:
            node["maxItems"] = max(max_items, int(node.get("minItems", 0)))
        if close and isinstance(node.get("properties"), dict) and "additionalProperties" not in node \
                and "patternProperties" not in node:
            node["additionalProperties"] = False  # small models invent extra keys otherwise
        for key in _NESTED:
            if isinstance(node.get(key), dict):
                for child in node[key].values():
                    walk(child)
        for key in _LISTS:
            if isinstance(node.get(key), list):
                # parts of an allOf are merged: closing each one would reject the others' keys
                for child in node[key]:
                    walk(child, close=not (key == "allOf" and len(node[key]) > 1))
        for key in _SINGLE:
            walk(node.get(key))

    walk(out)
    return out


def compile_json_schema(schema: dict[str, Any], ll_tokenizer: Any) -> str:
    """The llguidance grammar for ``schema`` (bounded, compact JSON).

    Raises:
        UserError: the schema cannot be compiled (the message names the offending part).
    """
    import llguidance

    try:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(
            json.dumps(bound_schema(schema)), defaults={"whitespace_flexible": False})
    except (ValueError, TypeError) as exc:
        raise UserError(f"output_schema is not a JSON Schema the local model can follow: {exc}") from exc
    problem = llguidance.LLMatcher.validate_grammar(grammar, ll_tokenizer)
    if problem and not problem.startswith("WARNING"):
        raise UserError(f"output_schema cannot be used for constrained decoding: {problem}. Simplify the "
                        "schema (supported: types, properties, required, enum, const, anyOf, $ref, items, "
                        "min/max bounds, pattern) or use a hosted model for this signature.")
    return grammar


class JsonConstraint:
    """One decoding run's grammar state: which tokens may come next, and which are forced."""

    def __init__(self, grammar: str, ll_tokenizer: Any, vocab_size: int) -> None:
        import llguidance

        self._matcher = llguidance.LLMatcher(ll_tokenizer, grammar, log_level=0)
        self._vocab = vocab_size
        if self._matcher.is_error():
            raise UserError(f"output_schema could not be prepared for decoding: {self._matcher.get_error()}")

    def forced(self) -> list[int]:
        """Tokens the grammar allows and requires next (may be empty)."""
        return list(self._matcher.compute_ff_tokens())

    def allowed(self) -> np.ndarray:
        """Sorted ids of the tokens allowed next (EOS only once the document is complete)."""
        bits = np.unpackbits(np.frombuffer(self._matcher.compute_bitmask(), np.uint8), bitorder="little")
        return np.flatnonzero(bits[:self._vocab])

    def consume(self, tokens: list[int]) -> None:
        if not self._matcher.consume_tokens(tokens):
            raise RuntimeError(f"grammar rejected tokens {tokens}: {self._matcher.get_error()}")

    @property
    def done(self) -> bool:
        """True when the document is complete and nothing but EOS may follow."""
        return bool(self._matcher.is_stopped())

    @property
    def accepting(self) -> bool:
        return bool(self._matcher.is_accepting())
