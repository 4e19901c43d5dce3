"""``Signature``: immutability, equality, validation, schemas, serialisation and the class-based form."""

from __future__ import annotations

import copy
import pickle
from typing import Literal

import pytest

from kaizen_lab.errors import OutputParseError, SignatureError, UserError
from kaizen_lab.framework import Kaizen
from kaizen_lab.signatures import FieldSpec, InputField, OutputField, Signature

from .conftest import NAMESPACE, Priority, Ticket

QA = "question: str -> answer: str, confidence: float"


def test_accessors() -> None:
    sig = Signature(QA)
    assert sig.input_names == ("question",)
    assert sig.output_names == ("answer", "confidence")
    assert list(sig.fields) == ["question", "answer", "confidence"]
    assert [f.role for f in sig.fields.values()] == ["input", "output", "output"]
    assert sig.input_fields[0].required and sig.instructions == "" and sig.demos == ()


def test_str_and_repr_print_the_full_typed_form() -> None:
    sig = Signature("question, k: int = 3 -> answer, confidence: float")
    assert str(sig) == "question: str, k: int = 3 -> answer: str, confidence: float"
    assert repr(sig) == "Signature('question: str, k: int = 3 -> answer: str, confidence: float')"


def test_equal_by_content_and_hashable() -> None:
    a, b = Signature(QA), Signature("question -> answer, confidence: float")
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != Signature("question -> answer, confidence: int")
    assert a != a.with_instructions("Be brief.")
    assert a != Signature("question -> answer, confidence: float = 0.5")


def test_immutable() -> None:
    sig = Signature(QA)
    with pytest.raises(AttributeError, match="immutable"):
        sig._instructions = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del sig._inputs


def test_with_instructions_and_demos_return_new_signatures() -> None:
    sig = Signature(QA)
    told = sig.with_instructions("Answer in one word.")
    assert told.instructions == "Answer in one word." and sig.instructions == ""
    shown = told.with_demos([{"question": "2+2?", "answer": "4", "confidence": 1.0}])
    assert shown.demos == ({"question": "2+2?", "answer": "4", "confidence": 1.0},)
    assert shown.instructions == "Answer in one word." and told.demos == ()
    with pytest.raises(UserError, match=r"demo 0 has unknown field 'answr' \(did you mean 'answer'\?\)"):
        sig.with_demos([{"answr": "4"}])


def test_validate_inputs_coerces_and_names_the_fix() -> None:
    sig = Signature("question: str, k: int = 3 -> answer")
    assert sig.validate_inputs({"question": "q"}) == {"question": "q", "k": 3}
    assert sig.validate_inputs({"question": "q", "k": "5"}) == {"question": "q", "k": 5}
    with pytest.raises(UserError, match=r"unknown input 'questoin' \(did you mean 'question'\?\)"):
        sig.validate_inputs({"questoin": "q"})
    with pytest.raises(UserError, match=r"missing input 'question'; this signature takes \['question', 'k'\]"):
        sig.validate_inputs({})
    with pytest.raises(UserError, match=r"invalid input k: Input should be a valid integer"):
        sig.validate_inputs({"question": "q", "k": "many"})


def test_validate_outputs_raises_output_parse_error() -> None:
    sig = Signature(QA)
    assert sig.validate_outputs({"answer": "Paris", "confidence": "0.9"}) == {"answer": "Paris", "confidence": 0.9}
    with pytest.raises(OutputParseError) as info:
        sig.validate_outputs({"answer": "Paris", "confidence": "very"})
    assert info.value.reason.startswith("confidence: Input should be a valid number")
    assert info.value.expected == ("answer", "confidence")
    assert info.value.parsed == {"answer": "Paris", "confidence": "very"}


def test_user_types_validate_from_json_shapes() -> None:
    sig = Signature("ticket: Ticket -> priority: Priority, related: list[Ticket]", NAMESPACE)
    values = sig.validate_inputs({"ticket": {"title": "crash"}})
    assert values["ticket"] == Ticket(title="crash")
    out = sig.validate_outputs({"priority": "high", "related": [{"title": "a", "body": "b"}]})
    assert out == {"priority": Priority.HIGH, "related": [Ticket(title="a", body="b")]}


def test_field_names_that_shadow_pydantic_members_work() -> None:
    sig = Signature("json: str, model_config: int -> schema: dict, copy: str, model_validate: bool")
    assert sig.validate_inputs({"json": "x", "model_config": "2"}) == {"json": "x", "model_config": 2}
    out = sig.validate_outputs({"schema": {}, "copy": "c", "model_validate": "true"})
    assert out == {"schema": {}, "copy": "c", "model_validate": True}
    assert list(sig.output_schema()["properties"]) == ["schema", "copy", "model_validate"]


def test_schemas() -> None:
    sig = Signature('"""Classify."""\ntext: str  # the text\n->\nlabel: Literal["a", "b"]  # the class\n'
                    "score: float = 0.5")
    out = sig.output_schema()
    assert out["properties"]["label"] == {"description": "the class", "enum": ["a", "b"], "title": "Label",
                                          "type": "string"}
    assert out["properties"]["score"]["default"] == 0.5
    assert out["required"] == ["label"] and out["additionalProperties"] is False
    inp = sig.input_schema()
    assert inp["properties"]["text"]["description"] == "the text" and inp["required"] == ["text"]


def test_to_text_round_trip_multiline() -> None:
    sig = Signature('"""Answer questions.\n\nBe brief."""\nquestion: str  # the question\n'
                    "k: int = 3\n->\nanswer: str  # one sentence")
    text = sig.to_text()
    assert text == ('"""Answer questions.\n\nBe brief."""\nquestion: str  # the question\nk: int = 3\n->\n'
                    "answer: str  # one sentence")
    assert Signature(text) == sig


def test_to_text_escapes_awkward_instructions() -> None:
    for instructions in ['Say "hi"', 'ends with a quote"', 'has """ triple', "back\\slash", "tab\there",
                         "line\rbreak", "form\x0cfeed"]:
        sig = Signature(QA).with_instructions(instructions)
        assert Signature(sig.to_text()) == sig, instructions


def test_to_dict_from_dict_round_trip() -> None:
    sig = Signature("ticket: Ticket -> priority: Priority", NAMESPACE, instructions="Triage.").with_demos(
        [{"ticket": {"title": "x"}, "priority": "low"}])
    data = sig.to_dict()
    assert data["signature"] == '"""Triage."""\nticket: Ticket\n->\npriority: Priority'
    back = Signature.from_dict(data, NAMESPACE)
    assert back == sig and back.demos == sig.demos
    with pytest.raises(SignatureError, match="from_dict needs a mapping with a 'signature' string"):
        Signature.from_dict({"sig": "q -> a"})


def test_pickle_and_copy() -> None:
    sig = Signature(QA, instructions="Be brief.")
    assert pickle.loads(pickle.dumps(sig)) == sig
    assert copy.copy(sig) is sig and copy.deepcopy(sig) is sig


def test_coerce() -> None:
    sig = Signature(QA)
    assert Signature.coerce(sig) is sig
    assert Signature.coerce(QA) == sig
    with pytest.raises(UserError, match="expected a signature string, Signature or function, got int"):
        Signature.coerce(3)  # type: ignore[arg-type]


def test_programmatic_fields() -> None:
    sig = Signature(inputs=[FieldSpec("q")], outputs=[FieldSpec("n", int, role="output")])
    assert str(sig) == "q: str -> n: int"
    assert sig == Signature("q -> n: int")
    with pytest.raises(SignatureError, match="duplicate field 'q'"):
        Signature(inputs=[FieldSpec("q")], outputs=[FieldSpec("q")])
    with pytest.raises(SignatureError, match="a signature needs at least one output field"):
        Signature(inputs=[FieldSpec("q")])
    with pytest.raises(SignatureError, match="give either the signature text or inputs=/outputs=, not both"):
        Signature("q -> a", inputs=[FieldSpec("q")])


class QABase(Signature):
    """Answer questions with short factual answers."""

    question: str = InputField(desc="the user's question")
    answer: str = OutputField(desc="one sentence")


class QAWithContext(QABase):
    context: list[str] = InputField(desc="passages", default=[])
    confidence: float = OutputField(desc="between 0 and 1", ge=0, le=1)


class Triage(Signature):
    """Triage a ticket."""

    ticket: Ticket = InputField()
    priority: Priority = OutputField()
    label: Literal["bug", "feature"] = OutputField()


def test_class_based_signature() -> None:
    sig = QABase()
    assert sig.instructions == "Answer questions with short factual answers."
    assert sig.name == "QABase"
    assert sig == Signature(
        '"""Answer questions with short factual answers."""\n'
        "question: str  # the user's question\n->\nanswer: str  # one sentence")


def test_class_inheritance_merges_fields_and_keeps_the_docstring() -> None:
    sig = QAWithContext()
    assert sig.input_names == ("question", "context")
    assert sig.output_names == ("answer", "confidence")
    assert sig.instructions == QABase().instructions
    assert sig.fields["context"].default == []
    assert sig.fields["confidence"].constraints == (("ge", 0), ("le", 1))
    with pytest.raises(OutputParseError, match="confidence: Input should be less than or equal to 1"):
        sig.validate_outputs({"answer": "a", "confidence": 3})


def test_class_based_with_user_types() -> None:
    sig = Triage()
    assert str(sig) == "ticket: Ticket -> priority: Priority, label: Literal['bug', 'feature']"
    assert Signature.parse(sig.to_text(), NAMESPACE) == sig


def test_subclass_can_move_a_field_to_the_other_side() -> None:
    class Reverse(QABase):
        answer: str = InputField()
        question: str = OutputField()

    assert Reverse().input_names == ("answer",) and Reverse().output_names == ("question",)


def test_class_field_without_marker_is_an_error() -> None:
    with pytest.raises(SignatureError, match=r"Bad.question: give it a value"):
        class Bad(Signature):
            question: str
            answer: str = OutputField()


def test_unknown_constraint_is_an_error() -> None:
    with pytest.raises(SignatureError, match=r"unknown field constraint 'maxlen'"):
        InputField(maxlen=3)


def test_create_signature_on_the_facade() -> None:
    kaizen = Kaizen()
    sig = kaizen.create_signature("ticket: Ticket -> priority: Priority", "Triage the ticket.", NAMESPACE)
    assert sig.instructions == "Triage the ticket."
    assert sig.fields["ticket"].annotation is Ticket
    cell = '"""From the docstring."""\nq\n->\na'
    assert kaizen.create_signature(cell).instructions == "From the docstring."
    assert kaizen.create_signature(cell, "Overrides it.").instructions == "Overrides it."
    with pytest.raises(SignatureError, match="unknown type 'Tickt'"):
        kaizen.create_signature("t: Tickt -> a", namespace=NAMESPACE)
