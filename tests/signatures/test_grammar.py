"""The signature grammar: a table of valid signatures, a table of errors with their exact text and caret."""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid
from typing import Any, Literal, Optional

import pytest

from kaizen_lab.errors import SignatureError
from kaizen_lab.signatures import MISSING, Signature
from kaizen_lab.signatures.grammar import parse_signature_text

from .conftest import NAMESPACE, Passage, Priority, Ticket

I, O = "input", "output"  # noqa: E741 - short role names keep the table readable


def f(role: str, name: str, tp: Any = str, default: Any = MISSING, desc: str = "") -> tuple[Any, ...]:
    return (role, name, tp, default, desc)


QA = [f(I, "question"), f(O, "answer"), f(O, "confidence", float)]

# (text, expected fields in order, expected instructions)
VALID: list[tuple[str, list[tuple[Any, ...]], str]] = [
    ("question -> answer", [f(I, "question"), f(O, "answer")], ""),
    ("question: str -> answer: str", [f(I, "question"), f(O, "answer")], ""),
    ("question: str -> answer: str, confidence: float", QA, ""),
    ("question->answer:str,confidence:float", QA, ""),
    ("  question : str  ->  answer , confidence : float  ", QA, ""),
    ("a, b -> c", [f(I, "a"), f(I, "b"), f(O, "c")], ""),
    ("a, b, -> c,", [f(I, "a"), f(I, "b"), f(O, "c")], ""),
    ("n: int -> doubled: int", [f(I, "n", int), f(O, "doubled", int)], ""),
    ("x: float -> ok: bool", [f(I, "x", float), f(O, "ok", bool)], ""),
    ("data: bytes -> size: int", [f(I, "data", bytes), f(O, "size", int)], ""),
    ("items: list -> count: int", [f(I, "items", list), f(O, "count", int)], ""),
    ("items: list[str] -> first: str", [f(I, "items", list[str]), f(O, "first")], ""),
    ("items: List[int] -> total: int", [f(I, "items", list[int]), f(O, "total", int)], ""),
    ("m: dict[str, int] -> keys: list[str]", [f(I, "m", dict[str, int]), f(O, "keys", list[str])], ""),
    ("m: Dict[str, list[float]] -> n: int", [f(I, "m", dict[str, list[float]]), f(O, "n", int)], ""),
    ("m: dict -> n: int", [f(I, "m", dict), f(O, "n", int)], ""),
    ("pair: tuple -> s: str", [f(I, "pair", tuple), f(O, "s")], ""),
    ("pair: tuple[int, str] -> s: str", [f(I, "pair", tuple[int, str]), f(O, "s")], ""),
    ("xs: tuple[int, ...] -> s: int", [f(I, "xs", tuple[int, ...]), f(O, "s", int)], ""),
    ("tags: set[str] -> n: int", [f(I, "tags", set[str]), f(O, "n", int)], ""),
    ("tags: frozenset[str] -> n: int", [f(I, "tags", frozenset[str]), f(O, "n", int)], ""),
    ("q -> a: int | None", [f(I, "q"), f(O, "a", Optional[int])], ""),  # noqa: UP045
    ("q -> a: None | int", [f(I, "q"), f(O, "a", None | int)], ""),
    ("q -> a: Optional[int]", [f(I, "q"), f(O, "a", int | None)], ""),
    ("q -> a: Optional[list[str]]", [f(I, "q"), f(O, "a", list[str] | None)], ""),
    ("q -> a: Union[int, str]", [f(I, "q"), f(O, "a", int | str)], ""),
    ("q -> a: int | str | None", [f(I, "q"), f(O, "a", int | str | None)], ""),
    ("q -> a: list[int | None]", [f(I, "q"), f(O, "a", list[int | None])], ""),
    ("q -> label: Literal['yes', 'no']", [f(I, "q"), f(O, "label", Literal["yes", "no"])], ""),
    ('q -> label: Literal["a", "b", "c"]', [f(I, "q"), f(O, "label", Literal["a", "b", "c"])], ""),
    ("q -> n: Literal[1, 2, 3]", [f(I, "q"), f(O, "n", Literal[1, 2, 3])], ""),
    ("q -> flag: Literal[True, None]", [f(I, "q"), f(O, "flag", Literal[True, None])], ""),
    ("q -> n: Literal[-1, 0]", [f(I, "q"), f(O, "n", Literal[-1, 0])], ""),
    ("q -> labels: list[Literal['a', 'b']]", [f(I, "q"), f(O, "labels", list[Literal["a", "b"]])], ""),
    ("q -> arrow: Literal['->']", [f(I, "q"), f(O, "arrow", Literal["->"])], ""),
    ("q -> when: datetime", [f(I, "q"), f(O, "when", datetime.datetime)], ""),
    ("q -> day: date", [f(I, "q"), f(O, "day", datetime.date)], ""),
    ("q -> at: time, gap: timedelta", [f(I, "q"), f(O, "at", datetime.time), f(O, "gap", datetime.timedelta)], ""),
    ("q -> price: Decimal, id: UUID", [f(I, "q"), f(O, "price", decimal.Decimal), f(O, "id", uuid.UUID)], ""),
    ("q -> anything: Any", [f(I, "q"), f(O, "anything", Any)], ""),
    ("q -> days: list[date]", [f(I, "q"), f(O, "days", list[datetime.date])], ""),
    ("ticket: Ticket -> priority: Priority", [f(I, "ticket", Ticket), f(O, "priority", Priority)], ""),
    ("q -> passages: list[Passage]", [f(I, "q"), f(O, "passages", list[Passage])], ""),
    ("q -> tickets: list[Ticket]", [f(I, "q"), f(O, "tickets", list[Ticket])], ""),
    ("q -> by_id: dict[str, Ticket]", [f(I, "q"), f(O, "by_id", dict[str, Ticket])], ""),
    ("q -> t: Optional[Ticket]", [f(I, "q"), f(O, "t", Ticket | None)], ""),
    ("q -> t: Ticket | None", [f(I, "q"), f(O, "t", Ticket | None)], ""),
    ("q -> ps: list[Priority] | None", [f(I, "q"), f(O, "ps", list[Priority] | None)], ""),
    ("q, k: int = 3 -> a", [f(I, "q"), f(I, "k", int, 3), f(O, "a")], ""),
    ("k: int = 3, q: str -> a", [f(I, "k", int, 3), f(I, "q"), f(O, "a")], ""),
    ("q, t: float = 0.5 -> a", [f(I, "q"), f(I, "t", float, 0.5), f(O, "a")], ""),
    ("q, t: float = 1 -> a", [f(I, "q"), f(I, "t", float, 1), f(O, "a")], ""),
    ("q, style: str = 'short' -> a", [f(I, "q"), f(I, "style", str, "short"), f(O, "a")], ""),
    ("q, s = 'x->y' -> a", [f(I, "q"), f(I, "s", str, "x->y"), f(O, "a")], ""),
    ("q, verbose: bool = False -> a", [f(I, "q"), f(I, "verbose", bool, False), f(O, "a")], ""),
    ("q, ctx: list[str] = [] -> a", [f(I, "q"), f(I, "ctx", list[str], []), f(O, "a")], ""),
    ("q, opts: dict[str, int] = {'k': 1} -> a", [f(I, "q"), f(I, "opts", dict[str, int], {"k": 1}), f(O, "a")], ""),
    ("q, hint: str | None = None -> a", [f(I, "q"), f(I, "hint", str | None, None), f(O, "a")], ""),
    ("q, mode: Literal['a', 'b'] = 'b' -> a", [f(I, "q"), f(I, "mode", Literal["a", "b"], "b"), f(O, "a")], ""),
    ("q -> a, note: str = ''", [f(I, "q"), f(O, "a"), f(O, "note", str, "")], ""),
    ("q, n: int = -2 -> a", [f(I, "q"), f(I, "n", int, -2), f(O, "a")], ""),
    ("café: str -> thé: str", [f(I, "café"), f(O, "thé")], ""),
    ("match, case, type -> print", [f(I, "match"), f(I, "case"), f(I, "type"), f(O, "print")], ""),
    ("json: str -> schema: dict, copy: str", [f(I, "json"), f(O, "schema", dict), f(O, "copy")], ""),
    ('"""Answer briefly."""\nquestion -> answer', [f(I, "question"), f(O, "answer")], "Answer briefly."),
    ("question: str  # the user's question\n->\nanswer: str  # one sentence",
     [f(I, "question", desc="the user's question"), f(O, "answer", desc="one sentence")], ""),
    ('"""Answer questions with short factual answers."""\n'
     "question: str          # the user's question\n"
     "context: list[str] = []  # passages to use\n"
     "->\n"
     "answer: str            # one sentence\n"
     "confidence: float      # between 0 and 1\n",
     [f(I, "question", desc="the user's question"), f(I, "context", list[str], [], "passages to use"),
      f(O, "answer", desc="one sentence"), f(O, "confidence", float, desc="between 0 and 1")],
     "Answer questions with short factual answers."),
    ('"""\n    Summarise the text.\n\n    Keep it short.\n"""\ntext\n->\nsummary',
     [f(I, "text"), f(O, "summary")], "Summarise the text.\n\nKeep it short."),
    ("'''Single quotes.'''\nq\n->\na", [f(I, "q"), f(O, "a")], "Single quotes."),
    ('"One line docstring."\nq\n->\na', [f(I, "q"), f(O, "a")], "One line docstring."),
    ("\n\n  q: int  # n\n\n  # a comment line\n  ->  # arrow\n  a,  # answer\n\n",
     [f(I, "q", int, desc="n"), f(O, "a", desc="answer")], ""),
    ("a, b: int  # both\n->\nc", [f(I, "a", desc="both"), f(I, "b", int, desc="both"), f(O, "c")], ""),
    ("q: str = 'a # b'  # has a hash\n->\na", [f(I, "q", str, "a # b", "has a hash"), f(O, "a")], ""),
    ("ticket: Ticket  # the ticket\n->\nlabel: Literal['bug', 'feature']  # kind\nps: list[Priority]",
     [f(I, "ticket", Ticket, desc="the ticket"), f(O, "label", Literal["bug", "feature"], desc="kind"),
      f(O, "ps", list[Priority])], ""),
]


@pytest.mark.parametrize(("text", "expected", "instructions"), VALID, ids=[v[0][:40] for v in VALID])
def test_valid_signature(text: str, expected: list[tuple[Any, ...]], instructions: str) -> None:
    sig = Signature.parse(text, NAMESPACE)
    got = [(fs.role, fs.name, fs.annotation, fs.default, fs.description)
           for fs in (*sig.input_fields, *sig.output_fields)]
    assert got == expected
    assert sig.instructions == instructions
    # defaults keep their type (3 stays an int, 0.5 a float)
    assert [type(g[3]) for g in got] == [type(e[3]) for e in expected]


def test_valid_table_is_large_enough() -> None:
    assert len(VALID) >= 60


# (text, reason, line, column (0-based))
INVALID: list[tuple[str, str, int, int]] = [
    ("question: flaot -> answer", "unknown type 'flaot' (did you mean 'float'?)", 1, 10),
    ("q -> a: lsit[str]", "unknown type 'lsit' (did you mean 'list'?)", 1, 8),
    ("q: list[Tiket] -> a", "unknown type 'Tiket' (did you mean 'Ticket'?)", 1, 8),
    ("q -> a: dict[str, Priorty]", "unknown type 'Priorty' (did you mean 'Priority'?)", 1, 18),
    ("q -> a: Optional[Pasage]", "unknown type 'Pasage' (did you mean 'Passage'?)", 1, 17),
    ("q -> a: Zebra", "unknown type 'Zebra'; define it in the notebook or pass it in namespace=", 1, 8),
    ("a, a -> b", "duplicate field 'a'", 1, 3),
    ("q -> x, y, x", "duplicate field 'x'", 1, 11),
    ("a, b -> a", "'a' is both an input and an output; rename one of them", 1, 8),
    ("question -> answer, question", "'question' is both an input and an output; rename one of them", 1, 20),
    ("question answer", "missing '->' between the inputs and the outputs (e.g. 'question -> answer')", 1, 15),
    ("question", "missing '->' between the inputs and the outputs (e.g. 'question -> answer')", 1, 8),
    (" -> answer", "no input fields before '->'", 1, 1),
    ("question -> ", "no output fields after '->'", 1, 9),
    ("->", "no input fields before '->'", 1, 0),
    ("a -> b -> c", "more than one '->' in the signature", 1, 7),
    ("class: str -> b", "'class' is a Python keyword and cannot be a field name", 1, 0),
    ("q -> return", "'return' is a Python keyword and cannot be a field name", 1, 5),
    ("a, for -> c", "'for' is a Python keyword and cannot be a field name", 1, 3),
    ("q -> None", "'None' is a Python keyword and cannot be a field name", 1, 5),
    ("a, , b -> c", "empty field (a ',' with no field before it)", 1, 2),
    ("q: -> a", "missing type after ':' for field 'q'", 1, 2),
    ("q = -> a", "missing default value after '=' for field 'q'", 1, 2),
    ("q: list[int -> a", "'[' is never closed", 1, 7),
    ("q: list[int]] -> a", "unmatched ']'", 1, 12),
    ("q: Literal['x] -> a", "unterminated string", 1, 11),
    ("q -> a # the answer", "'# description' comments need the multi-line form (one field per line)", 1, 7),
    ("1x -> b", "'1x' is not a valid field name (use letters, digits and '_')", 1, 0),
    ("q answer -> a", "expected ':', '=' or ',' after the field name 'q'", 1, 2),
    ("*args -> a", "'*', '**' and '/' are not allowed in a signature", 1, 0),
    ("_private -> a", "field names cannot start with '_' ('_private')", 1, 0),
    ("q: Optional -> a", "Optional needs a type, e.g. Optional[int]", 1, 3),
    ("q -> a: Literal", "Literal needs values, e.g. Literal['yes', 'no']", 1, 8),
    ("q: 3 -> a", "not a type: '3'", 1, 3),
    ("q: 'int' -> a", "quoted types are not supported; write the type without quotes", 1, 3),
    ("q: dict[str] -> a", "dict[...] takes a key and a value type, e.g. dict[str, int]", 1, 3),
    ("q: list[int, str] -> a", "list[...] takes exactly one type, e.g. list[str]", 1, 3),
    ("q: Optional[int, str] -> a", "Optional[...] takes exactly one type, e.g. Optional[int]", 1, 3),
    ("q -> a: Literal[int]", "Literal[...] takes constants such as 'a', 1, True or None", 1, 16),
    ("q: int = f() -> a", "a default must be a literal (a number, string, list, dict, tuple, True, False or None)",
     1, 9),
    ("q: int = 'x' -> a", "default 'x' does not match the type int", 1, 9),
    ("q: str = None -> a", "default None needs an optional type (e.g. 'q: str | None = None')", 1, 9),
    ("q: Literal['a', 'b'] = 'c' -> a", "default 'c' is not one of Literal['a', 'b']", 1, 23),
    ("q: int() -> a", "not a type: 'int()'", 1, 3),
    ("q: str -> a: int[str]", "'int' does not take type parameters", 1, 13),
    ("", "empty signature; write e.g. 'question: str -> answer: str'", 1, 0),
    ("q: str\nanswer: str", "missing a line holding only '->' between the inputs and the outputs", 2, 11),
    ("q\n->\n->\na", "more than one '->' line", 3, 0),
    ("q\nx -> a\nb", "in the multi-line form put '->' on a line of its own", 2, 2),
    ("q\n-> a\n-> b", "more than one '->' line", 3, 0),
    ("q\n->\n-> b", "more than one '->' line", 3, 0),
    ("q\n-> a: Flaot", "unknown type 'Flaot' (did you mean 'float'?)", 2, 6),
    ("->\na\nb", "no input fields before '->'", 1, 0),
    ("a\nb\n  ->", "no output fields after '->'", 3, 2),
    ('"""never closed\nq\n->\na', 'unterminated docstring; close it with """', 1, 0),
    ('"""doc""" q\n->\na', "unexpected text after the docstring; start the fields on the next line", 1, 10),
    ("q: str  # fine\nq: int  # again\n->\na", "duplicate field 'q'", 2, 0),
    ("q\n->\nflag: bool = 'no'", "default 'no' does not match the type bool", 3, 13),
    ("q\n->\nq", "'q' is both an input and an output; rename one of them", 3, 0),
    ("q\n->\nx: Flaot  # f", "unknown type 'Flaot' (did you mean 'float'?)", 3, 3),
    ("thé: flaot -> a", "unknown type 'flaot' (did you mean 'float'?)", 1, 5),
]


@pytest.mark.parametrize(("text", "reason", "line", "column"), INVALID, ids=[v[0][:40] for v in INVALID])
def test_invalid_signature(text: str, reason: str, line: int, column: int) -> None:
    with pytest.raises(SignatureError) as info:
        Signature.parse(text, NAMESPACE)
    err = info.value
    assert (err.reason, err.line, err.column) == (reason, line, column)
    # the message ends with the offending line and a caret under the column
    message_lines = str(err).splitlines()
    assert message_lines[-2] == "    " + text.splitlines()[line - 1] if text else message_lines[-2].strip() == ""
    assert message_lines[-1] == "    " + " " * column + "^"


def test_invalid_table_is_large_enough() -> None:
    assert len(INVALID) >= 30


def test_error_message_shows_line_column_and_caret() -> None:
    with pytest.raises(SignatureError) as info:
        Signature.parse("question: flaot -> answer")
    assert str(info.value) == (
        "unknown type 'flaot' (did you mean 'float'?) at column 11\n"
        "    question: flaot -> answer\n"
        "              ^"
    )


def test_multiline_error_message_names_the_line() -> None:
    with pytest.raises(SignatureError) as info:
        Signature.parse("q\n->\nx: Flaot")
    assert str(info.value).splitlines()[0] == "unknown type 'Flaot' (did you mean 'float'?) at line 3, column 4"


def test_non_string_is_a_signature_error() -> None:
    with pytest.raises(SignatureError, match="a signature must be a string, got int"):
        parse_signature_text(42)  # type: ignore[arg-type]


def test_namespace_types_win_over_builtin_names_only_when_they_are_types() -> None:
    import time as time_module

    # a notebook that did `import time` must still get datetime.time for the built-in name
    sig = Signature.parse("q -> at: time", {"time": time_module})
    assert sig.fields["at"].annotation is datetime.time

    class date:  # noqa: N801 - a user type shadowing the built-in name on purpose
        pass

    assert Signature.parse("q -> d: date", {"date": date}).fields["d"].annotation is date


def test_namespace_type_is_never_served_stale_from_the_cache() -> None:
    text = "q -> t: Ticket"
    first = Signature.parse(text, {"Ticket": Ticket})

    class Ticket2(Ticket):
        pass

    second = Signature.parse(text, {"Ticket": Ticket2})
    assert first.fields["t"].annotation is Ticket
    assert second.fields["t"].annotation is Ticket2
    with pytest.raises(SignatureError, match="unknown type 'Ticket'"):
        Signature.parse(text)


def test_redefined_type_in_the_same_namespace_is_picked_up() -> None:
    # a notebook re-running the cell that defines Ticket rebinds the name in the same user_ns dict
    user_ns: dict[str, Any] = {"Ticket": Ticket}
    text = "q -> t: list[Ticket]"
    assert Signature.parse(text, user_ns).fields["t"].annotation == list[Ticket]

    class Ticket2(Ticket):
        pass

    user_ns["Ticket"] = Ticket2
    assert Signature.parse(text, user_ns).fields["t"].annotation == list[Ticket2]
    user_ns["Ticket"] = Ticket
    assert Signature.parse(text, user_ns).fields["t"].annotation == list[Ticket]


def test_builtin_name_shadowed_by_namespace_after_caching() -> None:
    text = "q -> n: Decimal"
    assert Signature.parse(text).fields["n"].annotation is decimal.Decimal

    class Decimal:  # a notebook redefining the name later
        pass

    assert Signature.parse(text, {"Decimal": Decimal}).fields["n"].annotation is Decimal
    assert Signature.parse(text).fields["n"].annotation is decimal.Decimal


def test_cached_mutable_defaults_are_not_shared() -> None:
    text = "q, ctx: list[str] = [] -> a"
    one, two = Signature.parse(text), Signature.parse(text)
    one.fields["ctx"].default.append("leak")
    assert two.fields["ctx"].default == []
    assert Signature.parse(text).fields["ctx"].default == []


def test_attribute_types_come_from_namespace_objects() -> None:
    import types

    module = types.SimpleNamespace(Ticket=Ticket)
    assert Signature.parse("t: models.Ticket -> a", {"models": module}).fields["t"].annotation is Ticket
    with pytest.raises(SignatureError, match="'models' has no attribute 'Tickt'"):
        Signature.parse("t: models.Tickt -> a", {"models": module})


def test_namespace_value_that_is_not_a_type() -> None:
    with pytest.raises(SignatureError) as info:
        Signature.parse("q -> a: answer_text", {"answer_text": "hello"})
    assert info.value.reason == "'answer_text' is not a type (it is a str)"
    assert info.value.column == 8


def test_typing_aliases_from_namespace_are_types() -> None:
    label = Literal["spam", "ham"]
    sig = Signature.parse("q -> label: Label, scores: list[Label]", {"Label": label})
    assert sig.fields["label"].annotation == label
    assert sig.fields["scores"].annotation == list[label]  # type: ignore[valid-type]


def test_docstring_over_one_line_signature() -> None:
    sig = Signature.parse('"""Be brief."""\n\nquestion: str -> answer: str')
    assert sig.instructions == "Be brief."
    assert sig.input_names == ("question",) and sig.output_names == ("answer",)


def test_escaped_docstring() -> None:
    sig = Signature.parse('"""Say \\"hi\\" and a backslash \\\\."""\nq\n->\na')
    assert sig.instructions == 'Say "hi" and a backslash \\.'


def test_type_text_is_kept_as_written() -> None:
    sig = Signature.parse("q: Optional[int] -> a: List[str]")
    assert [f.type_text for f in sig.fields.values()] == ["Optional[int]", "List[str]"]
    assert str(sig) == "q: Optional[int] -> a: List[str]"
    assert sig == Signature.parse("q: int | None -> a: list[str]")


def test_union_alias_equality_is_by_resolved_type() -> None:
    assert typing.get_args(Signature.parse("q -> a: Union[int, None]").fields["a"].annotation) == (int, type(None))


def test_the_outputs_line_may_start_with_the_arrow() -> None:
    sig = Signature("question: str\n-> answer: str, confidence: float")
    assert sig.input_names == ("question",) and sig.output_names == ("answer", "confidence")
    sig = Signature("q: str  # asked\nk: int = 3\n-> a: str  # short\nb: float")
    assert sig.input_names == ("q", "k") and sig.output_names == ("a", "b")
    assert sig.fields["a"].description == "short" and sig.fields["k"].default == 3
