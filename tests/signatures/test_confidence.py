"""The ``Confidence`` marker: parsed in every signature form, left out of what the model is asked."""

from __future__ import annotations

from typing import TypedDict

import pytest

from kaizen_lab import Agent, Confidence, InputField, OutputField, Signature
from kaizen_lab.errors import OutputParseError, SignatureError
from kaizen_lab.signatures.adapters import JSONAdapter


class Out(TypedDict):
    answer: str
    sure: Confidence


def test_the_string_grammar_knows_confidence() -> None:
    sig = Signature("question: str -> answer: str, confidence: Confidence")
    assert sig.fields["confidence"].annotation is Confidence
    assert sig.confidence_outputs == {"confidence": "answer"}
    assert Signature(str(sig)) == sig  # round trip through the text


def test_a_float_named_confidence_is_not_marked() -> None:
    sig = Signature("question: str -> answer: str, confidence: float")
    assert sig.confidence_outputs == {}
    assert sig.generated() is sig


def test_class_and_function_signatures_mark_it_too() -> None:
    class Review(Signature):
        """Rate the review."""

        text: str = InputField()
        label: str = OutputField()
        certainty: Confidence = OutputField()

    assert Review().confidence_outputs == {"certainty": "label"}

    def qa(question: str) -> Out:
        """Answer the question."""
        raise NotImplementedError

    assert Signature.from_function(qa).confidence_outputs == {"sure": "answer"}


def test_the_model_sees_the_answer_only() -> None:
    sig = Signature("question: str -> answer: str, confidence: Confidence").with_demos(
        [{"question": "2+2?", "answer": "4", "confidence": 0.9}])
    asked = sig.generated()
    assert asked.output_names == ("answer",)
    assert list(asked.output_schema()["properties"]) == ["answer"]
    assert asked.demos == ({"question": "2+2?", "answer": "4"},)
    prompt = "\n".join(m.content for m in JSONAdapter().format(asked, {"question": "3+3?"}, asked.demos))
    assert "confidence" not in prompt
    assert sig.generated() is asked  # built once per signature


def test_the_answer_is_the_first_output_that_is_not_a_confidence() -> None:
    sig = Signature("question: str -> sure: Confidence, city: str, country: str")
    assert sig.confidence_outputs == {"sure": "city"}


def test_a_confidence_needs_an_answer() -> None:
    with pytest.raises(SignatureError, match="no other output"):
        Signature("question: str -> sure: Confidence")


def test_confidence_values_are_probabilities() -> None:
    sig = Signature("question: str -> answer: str, confidence: Confidence")
    assert sig.output_schema()["properties"]["confidence"] == {"maximum": 1.0, "minimum": 0.0,
                                                                "title": "Confidence", "type": "number"}
    assert sig.validate_outputs({"answer": "a", "confidence": 0.25})["confidence"] == 0.25
    with pytest.raises(OutputParseError):
        sig.validate_outputs({"answer": "a", "confidence": 1.5})


def test_results_without_logprobs_have_no_answer_logprob() -> None:
    result = Agent("qa", "question: str -> answer: str", model="test").execute(question="x")
    assert result.metadata.answer_logprob is None
    assert result.metadata.to_dict()["answer_logprob"] is None
