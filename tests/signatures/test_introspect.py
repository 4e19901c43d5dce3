"""``Signature.from_function``: parameters → inputs, return annotation → outputs, docstring → text."""

from __future__ import annotations

import dataclasses
from typing import Annotated, NamedTuple, NotRequired, TypedDict

import pydantic
import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import SignatureError
from kaizen_lab.signatures import MISSING, Signature
from kaizen_lab.signatures._introspect import OUTPUT_NAME, parse_google_docstring

from .conftest import NAMESPACE, Priority, Ticket


class Answer(TypedDict):
    answer: str
    confidence: float


class Partial(TypedDict):
    answer: str
    note: NotRequired[str]


class Graded(pydantic.BaseModel):
    label: str = pydantic.Field(description="the label")
    score: float = 0.5
    tags: list[str] = pydantic.Field(default_factory=list)


class Pair(NamedTuple):
    left: str
    right: int = 0


@dataclasses.dataclass
class Summary:
    title: str
    bullets: list[str] = dataclasses.field(default_factory=list, metadata={"description": "key points"})


def qa(question: str, k: int = 3) -> Answer:
    """Answer questions with short factual answers.

    Use the passages when given.

    Args:
        question: the user's question
        k: how many passages
            to read

    Returns:
        answer: one sentence
        confidence (float): between 0 and 1

    Raises:
        ValueError: never
    """
    raise NotImplementedError


def test_typeddict_return_gives_several_outputs_with_docstring_descriptions() -> None:
    sig = Signature.from_function(qa)
    assert sig.instructions == "Answer questions with short factual answers.\n\nUse the passages when given."
    assert [(f.name, f.annotation, f.default, f.description) for f in sig.input_fields] == [
        ("question", str, MISSING, "the user's question"), ("k", int, 3, "how many passages to read")]
    assert [(f.name, f.annotation, f.description) for f in sig.output_fields] == [
        ("answer", str, "one sentence"), ("confidence", float, "between 0 and 1")]
    assert sig.name == "qa"
    assert sig == Signature.parse(sig.to_text())


def test_typeddict_not_required_keys_become_optional_outputs() -> None:
    def f(q: str) -> Partial: ...

    sig = Signature.from_function(f)
    assert sig.fields["answer"].required
    assert sig.fields["note"].default is None and sig.fields["note"].annotation == str | None


def test_pydantic_model_return() -> None:
    def classify(text: Annotated[str, "the text to classify"]) -> Graded:
        """Classify the text."""

    sig = Signature.from_function(classify)
    assert sig.fields["text"].description == "the text to classify" and sig.fields["text"].annotation is str
    assert [(f.name, f.annotation, f.default, f.description) for f in sig.output_fields] == [
        ("label", str, MISSING, "the label"), ("score", float, 0.5, ""), ("tags", list[str], [], "")]


def test_namedtuple_and_dataclass_returns() -> None:
    def split(text: str) -> Pair: ...

    def summarise(text: str) -> Summary: ...

    assert [(f.name, f.annotation, f.default) for f in Signature.from_function(split).output_fields] == [
        ("left", str, MISSING), ("right", int, 0)]
    out = Signature.from_function(summarise).output_fields
    assert [(f.name, f.default, f.description) for f in out] == [("title", MISSING, ""),
                                                                 ("bullets", [], "key points")]


def test_plain_return_type_gives_one_output_named_output() -> None:
    def double(xs: list[int]) -> list[int]:
        """Double every number.

        Returns:
            The doubled numbers,
            in order.
        """

    sig = Signature.from_function(double)
    assert OUTPUT_NAME == "output"
    assert [(f.name, f.annotation, f.description) for f in sig.output_fields] == [
        ("output", list[int], "The doubled numbers, in order.")]


def test_missing_or_none_return_annotation_gives_a_string_output() -> None:
    def a(q): ...

    def b(q: str) -> None: ...

    for fn in (a, b):
        sig = Signature.from_function(fn)
        assert str(sig) == "q: str -> output: str"


def test_unannotated_parameters_take_the_type_of_their_default() -> None:
    def f(q, n=3, ratio=0.5, flag=False, tags=[], opts=None) -> str: ...  # noqa: B006

    sig = Signature.from_function(f)
    assert [f.annotation for f in sig.input_fields] == [str, int, float, bool, list, str]
    assert sig.fields["opts"].default is None


def test_user_types_and_enums() -> None:
    def triage(ticket: Ticket, seen: list[Ticket] | None = None) -> Priority: ...

    sig = Signature.from_function(triage)
    assert sig.fields["ticket"].annotation is Ticket
    assert sig.fields["output"].annotation is Priority
    assert Signature.parse(sig.to_text(), NAMESPACE) == sig


def test_bound_methods_drop_self() -> None:
    class Helper:
        def run(self, question: str) -> str:
            """Answer."""
            return question

    assert str(Signature.from_function(Helper().run)) == "question: str -> output: str"


def test_var_args_are_rejected() -> None:
    def f(*items: str) -> str: ...

    with pytest.raises(SignatureError, match=r"'\*items'/'\*\*items' cannot be a signature field"):
        Signature.from_function(f)


def test_unresolvable_annotation_is_a_signature_error() -> None:
    def f(q: Missing) -> str: ...  # noqa: F821

    with pytest.raises(SignatureError, match="cannot resolve the type annotations of .*NameError"):
        Signature.from_function(f)


def test_not_a_function() -> None:
    with pytest.raises(SignatureError, match="from_function needs a function, got int"):
        Signature.from_function(3)


def test_agent_accepts_a_function_signature() -> None:
    agent = Agent("qa", qa, model="test")
    result = agent.execute(question="What is Kaizen?")
    assert set(result.data) == {"answer", "confidence"}
    assert isinstance(result.data["confidence"], float)


def test_google_docstring_parser() -> None:
    text, args, returns_text, returns = parse_google_docstring(qa.__doc__ or "")
    assert text.startswith("Answer questions") and "Raises" not in text
    assert args == {"question": "the user's question", "k": "how many passages to read"}
    assert returns == {"answer": "one sentence", "confidence": "between 0 and 1"}
    assert returns_text == "answer: one sentence confidence (float): between 0 and 1"
    assert parse_google_docstring("") == ("", {}, "", {})


class Empty(TypedDict):
    pass


def test_structured_return_without_fields_is_an_error() -> None:
    def f(q: str) -> Empty: ...

    with pytest.raises(SignatureError, match="has no fields to use as outputs"):
        Signature.from_function(f)
