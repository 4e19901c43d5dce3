"""The magics forgive a newcomer's first tries: a bare value, a misspelt model or option, --help, completion."""

from __future__ import annotations

from typing import Any

from IPython.core.completer import provisionalcompleter

from kaizen_lab.errors import UserError
from tests.notebook.conftest import cell, failing


def _completions(ip: Any, line: str) -> list[str]:
    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(line, len(line))]


def test_a_bare_value_is_the_input_of_a_single_input_signature(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    result = cell(ip, '%agent run qa "What is Kaizen?" -o')
    assert result.inputs == {"question": "What is Kaizen?"}


def test_a_bare_value_for_several_inputs_says_how_to_name_them(ip: Any) -> None:
    cell(ip, "%agent two 'question, context -> answer' --model test")
    error, card = failing(ip, '%agent run two "What is Kaizen?"')
    assert isinstance(error, UserError)
    assert 'name each input: %agent run two question="..." context="..."' in card.data["text/plain"]


def test_an_unknown_model_fails_at_creation_and_binds_nothing(ip: Any) -> None:
    error, card = failing(ip, "%agent qa 'question -> answer' --model tset")
    assert "unknown model 'tset' (did you mean 'test'?)" in str(error)
    assert "qa" not in ip.user_ns


def test_a_misspelt_option_is_suggested(ip: Any) -> None:
    error, _ = failing(ip, "%agent qa 'question -> answer' --modle test")
    assert isinstance(error, UserError)
    assert str(error).startswith("%agent has no option '--modle' (did you mean '--model'?)")
    error, _ = failing(ip, "%trace --panle")
    assert "did you mean '--panel'" in str(error)


def test_help_is_shown_not_refused(ip: Any) -> None:
    text = repr(cell(ip, "%agent --help"))
    assert "--model" in text and "run NAME" in text
    assert "--instructions" in repr(cell(ip, "%%signature --help\nquestion -> answer"))


def test_signature_usage_line_names_the_cell_magic(ip: Any) -> None:
    from kaizen_lab.notebook.magics import KaizenMagics

    doc = KaizenMagics.signature.__doc__ or ""
    assert "%%signature NAME [--instructions TEXT]" in doc
    assert "%signature [" not in doc and "[INSTRUCTIONS ...]" not in doc


def test_completion_offers_the_magics_choices_and_no_python_keywords(ip: Any) -> None:
    cell(ip, "%%signature QA\nquestion: str -> answer: str")
    cell(ip, "%agent qa QA --model test")
    first = _completions(ip, "%agent ")
    assert set(first) == {"run", "step", "list", "show", "qa"}
    assert _completions(ip, "%agent run ") == ["qa"]
    assert _completions(ip, "%agent run qa ") == ["question="]
    assert _completions(ip, "%agent other QA --mo") == ["--model"]
    assert _completions(ip, "%trace --p") == ["--panel"]
    assert "QA" in _completions(ip, "%agent other ")


def test_the_multi_line_form_with_the_arrow_starting_the_outputs_line(ip: Any) -> None:
    sig = cell(ip, "%%signature QA\nquestion: str\n-> answer: str, confidence: float")
    assert sig.input_names == ("question",) and sig.output_names == ("answer", "confidence")
    sig = cell(ip, '%%signature QB\n"""Answer."""\nquestion: str  # asked\ncontext: str\n'
                   '-> answer: str  # short\nconfidence: float')
    assert sig.input_names == ("question", "context") and sig.output_names == ("answer", "confidence")
    assert sig.fields["answer"].description == "short" and sig.instructions == "Answer."


def test_a_hosted_model_without_its_key_is_still_created(ip: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = cell(ip, "%agent hosted 'question -> answer' --model openai:gpt-4o-mini")
    assert agent.model_spec == "openai:gpt-4o-mini"  # the key is checked when it runs (it may be set first)
