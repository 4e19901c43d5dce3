"""Signature mistakes found by fuzzing get a SignatureError that says what is wrong, at the right column."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import SignatureError
from kaizen_lab.signatures import Signature


@pytest.mark.parametrize(("text", "message", "column"), [
    ("q: Literal[] -> a", r"Literal needs values, e.g. Literal\['yes', 'no'\]", 10),
    ("q: Optional[] -> a", r"Optional needs a type, e.g. Optional\[int\]", 11),
    ("q: list[] -> a", r"list\[...\] needs a type inside the brackets, e.g. list\[str\]", 7),
    ("q: dict[] -> a", r"dict\[...\] needs a key and a value type", 7),
    ("q: float = 1e400 -> a", r"default 1e400 is not finite \(it would read back as inf\); use a finite value", 11),
    ("q: list = [1, -1e400] -> a", r"default \[1, -1e400\] is not finite", 10),
    ("x: str.__class__ -> a", r"'str.__class__' is not a type; private and dunder attributes", 3),
])
def test_fuzzed_signature_mistakes_name_the_fix(text: str, message: str, column: int) -> None:
    with pytest.raises(SignatureError, match=message) as caught:
        Signature.parse(text)
    assert caught.value.column == column


def test_a_type_pydantic_cannot_describe_gives_a_signature_error_not_a_pydantic_one() -> None:
    class Handle:
        """An arbitrary class: pydantic validates it by isinstance but cannot describe it as JSON Schema."""

    sig = Signature.parse("h: Handle -> a", {"Handle": Handle})
    with pytest.raises(SignatureError, match=r"cannot describe the fields \(h: Handle\) as JSON Schema"):
        sig.input_schema()
