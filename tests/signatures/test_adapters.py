"""Adapters: messages out, typed values back (JSON bare/fenced/in prose, field markers, coercion, errors)."""

from __future__ import annotations

import datetime

import pytest

from kaizen_lab.errors import OutputParseError, UserError
from kaizen_lab.models.base import Message
from kaizen_lab.signatures import Signature
from kaizen_lab.signatures.adapters import FieldMarkerAdapter, JSONAdapter, get_adapter, retry_prompt

from .conftest import NAMESPACE, Priority, Ticket

QA = Signature('"""Answer briefly."""\nquestion: str  # the question\n->\nanswer: str  # one sentence\n'
               "confidence: float")
json_adapter, marker_adapter = JSONAdapter(), FieldMarkerAdapter()


def test_get_adapter() -> None:
    assert isinstance(get_adapter(None), JSONAdapter)
    assert isinstance(get_adapter("field_marker"), FieldMarkerAdapter)
    assert get_adapter(marker_adapter) is marker_adapter
    with pytest.raises(UserError, match=r"unknown adapter 'jsn' \(did you mean 'json'\?\)"):
        get_adapter("jsn")


def test_json_format_builds_system_demos_history_and_user_messages() -> None:
    demos = [{"question": "2+2?", "answer": "4", "confidence": 1.0}]
    history = [Message("user", "earlier"), Message("assistant", "reply")]
    messages = json_adapter.format(QA, {"question": "Capital of France?"}, demos, history)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    system = messages[0].content
    assert system.startswith("Answer briefly.\n\nInput fields:\n- question (str): the question")
    assert "- answer (str): one sentence\n- confidence (float)" in system
    assert system.endswith('Answer with one JSON object with the keys "answer", "confidence" and nothing else.')
    assert messages[1].content == "question: 2+2?"
    assert messages[2].content == '{"answer": "4", "confidence": 1.0}'
    assert messages[3:5] == history
    assert messages[-1].content == "question: Capital of France?"


def test_json_user_prompt_serialises_structured_values() -> None:
    sig = Signature("ticket: Ticket, when: date -> priority: Priority", NAMESPACE)
    text = json_adapter.user_prompt(sig, {"ticket": Ticket(title="crash"), "when": datetime.date(2026, 1, 2)})
    assert text == 'ticket: {"title": "crash", "body": ""}\nwhen: "2026-01-02"'


@pytest.mark.parametrize("text", [
    '{"answer": "Paris", "confidence": 0.9}',
    '  {"answer": "Paris", "confidence": "0.9"}  ',
    '```json\n{"answer": "Paris", "confidence": 0.9}\n```',
    '```\n{"answer": "Paris", "confidence": 0.9}\n```',
    'Sure! Here it is: {"answer": "Paris", "confidence": 0.9} Hope that helps.',
    'Note {braces} first, then {"unrelated": 1} and {"answer": "Paris", "confidence": 0.9}.',
])
def test_json_parse_accepts_bare_fenced_and_embedded_objects(text: str) -> None:
    assert json_adapter.parse(QA, text) == {"answer": "Paris", "confidence": 0.9}


def test_json_parse_nested_values_and_coercion_to_user_types() -> None:
    sig = Signature("q -> tickets: list[Ticket], priority: Priority, due: date", NAMESPACE)
    text = 'Result:\n```json\n{"tickets": [{"title": "a"}], "priority": "low", "due": "2026-03-04"}\n```'
    assert json_adapter.parse(sig, text) == {"tickets": [Ticket(title="a")], "priority": Priority.LOW,
                                             "due": datetime.date(2026, 3, 4)}


def test_json_parse_single_string_output_accepts_plain_text() -> None:
    sig = Signature("question -> answer")
    assert json_adapter.parse(sig, "  Paris.  ") == {"answer": "Paris."}


def test_json_parse_error_no_object() -> None:
    with pytest.raises(OutputParseError) as info:
        json_adapter.parse(QA, "I think it is Paris.")
    err = info.value
    assert (err.reason, err.raw_output, err.expected, err.parsed) == (
        "no JSON object found", "I think it is Paris.", ("answer", "confidence"), {})
    assert "expected fields ['answer', 'confidence']" in str(err)


def test_json_parse_error_missing_field_keeps_what_was_parsed() -> None:
    text = '{"answer": "Paris"}'
    with pytest.raises(OutputParseError) as info:
        json_adapter.parse(QA, text)
    err = info.value
    assert err.reason == "missing output field(s) ['confidence']"
    assert err.parsed == {"answer": "Paris"} and err.raw_output == text


def test_json_parse_error_bad_value() -> None:
    text = '{"answer": "Paris", "confidence": "high"}'
    with pytest.raises(OutputParseError) as info:
        json_adapter.parse(QA, text)
    err = info.value
    assert err.reason == "confidence: Input should be a valid number, unable to parse string as a number " \
                         "(got 'high')"
    assert err.parsed == {"answer": "Paris", "confidence": "high"} and err.raw_output == text


def test_json_parse_error_array_or_unrelated_object() -> None:
    with pytest.raises(OutputParseError, match="no JSON object found"):
        json_adapter.parse(QA, "[1, 2]")
    with pytest.raises(OutputParseError) as info:
        json_adapter.parse(QA, '```json\n[1, 2]\n```\nthen {"x": [1]} [')
    assert info.value.reason == "missing output field(s) ['answer', 'confidence']"
    assert info.value.parsed == {"x": [1]}


def test_parse_rejects_non_text() -> None:
    with pytest.raises(OutputParseError, match="expected the model's text, got NoneType"):
        json_adapter.parse(QA, None)  # type: ignore[arg-type]


def test_defaults_fill_missing_optional_outputs() -> None:
    sig = Signature("q -> answer, note: str = 'none'")
    assert json_adapter.parse(sig, '{"answer": "a"}') == {"answer": "a", "note": "none"}


def test_field_marker_format_and_parse() -> None:
    messages = marker_adapter.format(QA, {"question": "q?"},
                                     demos=[{"question": "2+2?", "answer": "4", "confidence": 1.0}])
    assert "[[ ## answer ## ]]\n<answer>\n[[ ## confidence ## ]]\n<confidence>\n[[ ## completed ## ]]" \
           in messages[0].content
    assert messages[2].content == "[[ ## answer ## ]]\n4\n[[ ## confidence ## ]]\n1.0\n[[ ## completed ## ]]"
    text = "[[ ## answer ## ]]\nParis is the capital.\n\n[[ ## confidence ## ]]\n0.75\n[[ ## completed ## ]]"
    assert marker_adapter.parse(QA, text) == {"answer": "Paris is the capital.", "confidence": 0.75}


def test_field_marker_parses_json_values_for_structured_types() -> None:
    sig = Signature("q -> tags: list[str], priority: Priority, done: bool", NAMESPACE)
    text = '[[ ## tags ## ]]\n["a", "b"]\n[[ ## priority ## ]]\nhigh\n[[ ## done ## ]]\ntrue'
    assert marker_adapter.parse(sig, text) == {"tags": ["a", "b"], "priority": Priority.HIGH, "done": True}


def test_field_marker_errors() -> None:
    with pytest.raises(OutputParseError) as info:
        marker_adapter.parse(QA, "Paris")
    assert info.value.reason == "no [[ ## field ## ]] markers found" and info.value.raw_output == "Paris"
    with pytest.raises(OutputParseError) as info:
        marker_adapter.parse(QA, "[[ ## answer ## ]]\nParis")
    assert info.value.reason == "missing output field(s) ['confidence']"
    assert info.value.parsed == {"answer": "Paris"}


def test_json_round_trip_through_assistant_text() -> None:
    outputs = {"answer": "x", "confidence": 0.25}
    assert json_adapter.parse(QA, json_adapter.assistant_text(QA, outputs)) == outputs
    assert marker_adapter.parse(QA, marker_adapter.assistant_text(QA, outputs)) == outputs


def test_system_prompt_is_memoised_per_signature() -> None:
    first = json_adapter.format(QA, {"question": "a"})[0]
    second = json_adapter.format(QA, {"question": "b"})[0]
    assert first.content is second.content
    other = json_adapter.format(QA.with_instructions("Different."), {"question": "a"})[0]
    assert other.content.startswith("Different.")


def test_each_adapter_asks_again_in_its_own_format() -> None:
    assert retry_prompt(json_adapter, QA, "bad") == ('That answer could not be used: bad. Answer with one JSON '
                                                     'object with the keys "answer", "confidence" and nothing else.')
    marker = retry_prompt(marker_adapter, QA, "bad")
    assert marker.startswith("That answer could not be used: bad. Answer in exactly this layout:")
    assert "[[ ## answer ## ]]\n<answer>\n[[ ## confidence ## ]]" in marker and "JSON" not in marker
    # the system prompt ends with the same answer format the retry repeats
    assert marker_adapter.system_prompt(QA).endswith(marker_adapter.answer_format(QA))


def test_an_adapter_without_its_own_retry_prompt_keeps_its_format() -> None:
    class Plain:
        name = "plain"

        def format(self, signature, inputs, demos=(), history=()):
            return []

        def parse(self, signature, text):
            return {}

    assert retry_prompt(Plain(), QA, "bad") == ("That answer could not be used: bad. Answer again in the format "
                                                "asked for above.")
