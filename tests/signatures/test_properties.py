"""Property tests: generated signatures round-trip through text; the parser only ever raises SignatureError."""

from __future__ import annotations

import keyword
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizen_lab.errors import SignatureError
from kaizen_lab.signatures import Signature
from kaizen_lab.signatures.grammar import clean_instructions, parse_signature_text

from .conftest import NAMESPACE

NAMES = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,10}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))
# one line of text: no line breaks of any kind (str.splitlines splits on more than "\n"), no surrogates
LINE_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
LITERAL_VALUES = st.one_of(st.text(string.ascii_letters + " -'\"#>", max_size=6), st.integers(-5, 5), st.booleans())

SCALARS: dict[str, Any] = {
    "str": LINE_TEXT,
    "int": st.integers(-10**6, 10**6),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "bool": st.booleans(),
}
OTHER_NAMES = ["bytes", "date", "datetime", "time", "Decimal", "UUID", "Any", "Ticket", "Priority", "Passage",
               "list", "dict", "tuple"]


@st.composite
def literal_type(draw: st.DrawFn) -> tuple[str, Any]:
    values = draw(st.lists(LITERAL_VALUES, min_size=1, max_size=4, unique_by=lambda v: (type(v), v)))
    return f"Literal[{', '.join(repr(v) for v in values)}]", st.sampled_from(values)


def _type_strategy() -> st.SearchStrategy[tuple[str, Any]]:
    """(type text, strategy for a default or None when the type gets no default)."""
    base = st.one_of(
        st.sampled_from(sorted(SCALARS)).map(lambda t: (t, SCALARS[t])),
        st.sampled_from(OTHER_NAMES).map(lambda t: (t, None)),
        literal_type(),
    )

    def extend(inner: st.SearchStrategy[tuple[str, Any]]) -> st.SearchStrategy[tuple[str, Any]]:
        return st.one_of(
            inner.map(lambda t: (f"list[{t[0]}]", st.just([]))),
            inner.map(lambda t: (f"List[{t[0]}]", None)),
            inner.map(lambda t: (f"dict[str, {t[0]}]", st.just({}))),
            inner.map(lambda t: (f"{t[0]} | None", st.none())),
            inner.map(lambda t: (f"Optional[{t[0]}]", st.none())),
            inner.map(lambda t: (f"tuple[{t[0]}, ...]", None)),
            st.tuples(inner, inner).map(lambda ts: (f"dict[{ts[0][0]}, {ts[1][0]}]", None)),
        )

    return st.recursive(base, extend, max_leaves=4)


TYPES = _type_strategy()


@st.composite
def field_text(draw: st.DrawFn, name: str, multiline: bool) -> str:
    text = name
    if draw(st.booleans()) or multiline:
        type_text, defaults = draw(TYPES)
        text += f": {type_text}"
    else:
        defaults = SCALARS["str"]
    if defaults is not None and draw(st.booleans()):
        text += f" = {draw(defaults)!r}"
    if multiline:
        description = draw(LINE_TEXT).strip()
        if description:
            text += f"  # {description}"
    return text


@st.composite
def signature_text(draw: st.DrawFn, multiline: bool | None = None) -> str:
    if multiline is None:
        multiline = draw(st.booleans())
    names = draw(st.lists(NAMES, min_size=2, max_size=7, unique=True))
    split = draw(st.integers(1, len(names) - 1))
    inputs = [draw(field_text(n, multiline)) for n in names[:split]]
    outputs = [draw(field_text(n, multiline)) for n in names[split:]]
    if not multiline:
        return f"{', '.join(inputs)} -> {', '.join(outputs)}"
    doc = draw(st.one_of(st.just(""), LINE_TEXT.map(str.strip).filter(lambda d: d and '"' not in d and "\\" not in d)))
    lines = ([f'"""{doc}"""'] if doc else []) + inputs + ["->"] + outputs
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signature_text())
def test_generated_signatures_round_trip_through_to_text(text: str) -> None:
    sig = Signature.parse(text, NAMESPACE)
    again = Signature.parse(sig.to_text(), NAMESPACE)
    assert again == sig
    assert hash(again) == hash(sig)
    assert again.to_text() == sig.to_text()


@settings(max_examples=150, deadline=None)
@given(signature_text(multiline=False))
def test_one_line_signatures_round_trip_through_str(text: str) -> None:
    sig = Signature.parse(text, NAMESPACE)
    assert sig.instructions == "" and not any(f.description for f in sig.fields.values())
    assert Signature.parse(str(sig), NAMESPACE) == sig
    assert str(Signature.parse(str(sig), NAMESPACE)) == str(sig)


@settings(max_examples=150, deadline=None)
@given(signature_text(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_instructions_round_trip(text: str, instructions: str) -> None:
    sig = Signature.parse(text, NAMESPACE).with_instructions(instructions)
    assert sig.instructions == clean_instructions(instructions)
    assert Signature.parse(sig.to_text(), NAMESPACE) == sig


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_raises_only_signature_errors_on_any_text(text: str) -> None:
    try:
        parse_signature_text(text, NAMESPACE)
    except SignatureError as exc:
        assert exc.reason  # every error says what is wrong
        if exc.column is not None:
            assert 0 <= exc.column <= len(exc.line_text)


SIGNATURE_ALPHABET = st.sampled_from(list("abq_:,->[]|=#'\"\\\n ()0123.*/{}") +
                                     ["str", "int", "list", "dict", "Optional", "Literal", "None", "class",
                                      "Ticket", "->", '"""', "# d\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(SIGNATURE_ALPHABET, max_size=25).map("".join))
def test_parser_raises_only_signature_errors_on_signature_like_text(text: str) -> None:
    try:
        sig = parse_signature_text(text, NAMESPACE)
    except SignatureError as exc:
        if exc.column is not None:
            assert 0 <= exc.column <= len(exc.line_text)
    else:
        assert sig.outputs  # whatever parses has at least one output
        # and what parses, prints back to an equal signature
        full = Signature.parse(text, NAMESPACE)
        assert Signature.parse(full.to_text(), NAMESPACE) == full


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300))
def test_deep_nesting_is_a_signature_error_or_parses(depth: int) -> None:
    text = "q -> a: " + "list[" * depth + "int" + "]" * depth
    try:
        parse_signature_text(text)
    except SignatureError:
        pass
