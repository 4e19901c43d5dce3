"""Malformed answers cannot stall an agent: parsing is linear, and the run's timeout covers parsing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import KaizenTimeoutError, OutputParseError
from kaizen_lab.models import FunctionModel
from kaizen_lab.signatures import Signature
from kaizen_lab.signatures.adapters import FieldMarkerAdapter, JSONAdapter

SIG = Signature.parse("question -> answer: str, score: int")
MALFORMED = {
    "open braces": "{" * 2_000_000,
    "open keys": '{"' * 1_000_000,
    "nested objects": '{"a": ' * 400_000,
    "nested strings": '{"a": "{"a": "' * 200_000,
    "unclosed fences": "```{" * 500_000,
    "one unclosed fence": "```json\n" + "{" * 2_000_000,
}


@pytest.mark.timeout(120)  # a hang guard only: the quadratic parser needed hours for these inputs
@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_answers_fail_with_a_parse_error(name: str) -> None:
    for adapter in (JSONAdapter(), FieldMarkerAdapter()):
        with pytest.raises(OutputParseError) as caught:
            adapter.parse(SIG, MALFORMED[name])
        assert caught.value.raw_output == MALFORMED[name]


@pytest.mark.parametrize("text", [
    '{"answer": "a", "score": 2}',
    'Sure. Here {is} my {"note": 1} answer: {"answer": "a", "score": 2} done',
    'Some ```code``` first\n```json\n{"answer": "a", "score": 2}\n```',
    '{"answer": "a", "score": 2',  # broken whole text, no other object: not found
])
def test_objects_in_prose_and_fences_are_still_found(text: str) -> None:
    if text.endswith("2"):
        with pytest.raises(OutputParseError, match="no JSON object found"):
            JSONAdapter().parse(SIG, text)
    else:
        assert JSONAdapter().parse(SIG, text) == {"answer": "a", "score": 2}


class SlowAdapter(JSONAdapter):
    """A custom adapter that takes far longer than the run's timeout."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        self.release.wait(60)
        return super().parse(signature, text)


@pytest.mark.timeout(60)  # a hang guard: without the fix the run waits for the adapter
def test_the_run_timeout_covers_parsing() -> None:
    adapter = SlowAdapter()
    long_answer = '{"answer": "' + "x" * 50_000 + '", "score": 1}'
    agent = Agent("qa", SIG, model=FunctionModel(lambda messages, info: long_answer), adapter=adapter, timeout=1)
    try:
        with pytest.raises(KaizenTimeoutError, match="did not finish within 1s"):
            agent.execute(question="q")
    finally:
        adapter.release.set()
