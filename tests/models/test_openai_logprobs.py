"""Token log-probabilities from an OpenAI-compatible server: asked for, mapped, and turned into a Confidence."""

from __future__ import annotations

import math

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import ConfidenceUnavailableError
from kaizen_lab.models.base import Message, ModelSettings
from kaizen_lab.models.cache import MemoryCache
from kaizen_lab.models.openai import OpenAIModel
from tests.models.wire_server import Reply, openai_completion

KEY = "sk-test-0123456789abcdef"
#: '{"answer":"Paris"}' as a server would tokenize it: the answer's own tokens are '"', 'Par', 'is', '"}'
PARIS = [('{"', -0.01), ("answer", -0.02), ('":', -0.03), ('"', -0.1), ("Par", -0.2), ("is", -0.3), ('"}', -0.4)]


def model(wire) -> OpenAIModel:  # type: ignore[no-untyped-def]
    return OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key=KEY)


def test_logprobs_are_asked_for_and_mapped(wire, allow_real) -> None:  # type: ignore[no-untyped-def]
    wire.script(Reply(body=openai_completion("héllo", logprobs=[("h", -0.5), ("é", -1.5), ("llo", -0.25)])))
    response = model(wire).request_sync([Message("user", "hi")],
                                        settings=ModelSettings(logprobs=True, top_logprobs=2))
    assert (wire.last.body["logprobs"], wire.last.body["top_logprobs"]) == (True, 2)
    assert response.logprobs is not None
    assert [(t.token, t.logprob) for t in response.logprobs] == [("h", -0.5), ("é", -1.5), ("llo", -0.25)]
    assert response.logprobs[1].data == "é".encode()
    assert response.logprobs[2].top == (("llo", -0.25),)


def test_no_logprobs_unless_asked(wire, allow_real) -> None:  # type: ignore[no-untyped-def]
    wire.script(Reply(body=openai_completion("hello")))
    response = model(wire).request_sync([Message("user", "hi")])
    assert "logprobs" not in wire.last.body and "top_logprobs" not in wire.last.body
    assert response.logprobs is None


def test_an_agent_computes_confidence_from_the_answer_tokens(wire, allow_real) -> None:  # type: ignore[no-untyped-def]
    wire.script(Reply(body=openai_completion('{"answer":"Paris"}', logprobs=PARIS)))
    agent = Agent("qa", "question: str -> answer: str, confidence: Confidence", model=model(wire),
                  cache=MemoryCache())
    result = agent.execute(question="What is the capital of France?")
    sent = wire.last.body
    assert sent["logprobs"] is True
    schema = sent["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["answer"]  # the confidence is never asked of the model
    assert result.answer == "Paris"
    answer_logprob = -0.1 - 0.2 - 0.3 - 0.4  # the key's tokens are not the answer's
    assert result.metadata.answer_logprob == pytest.approx(answer_logprob)
    assert result.confidence == pytest.approx(math.exp(answer_logprob))
    again = agent.execute(question="What is the capital of France?")  # from the cache, log-probabilities kept
    assert again.metadata.cache_hits == 1
    assert again.confidence == pytest.approx(result.confidence)


def test_a_server_without_logprobs_is_a_typed_error(wire, allow_real) -> None:  # type: ignore[no-untyped-def]
    wire.script(Reply(body=openai_completion('{"answer":"Paris"}')))
    agent = Agent("qa", "question: str -> answer: str, confidence: Confidence", model=model(wire))
    with pytest.raises(ConfidenceUnavailableError, match="reported no token log-probabilities") as info:
        agent.execute(question="What is the capital of France?")
    assert info.value.field == "confidence"
    assert info.value.partial["raw_output"] == '{"answer":"Paris"}'


def test_a_test_model_has_no_logprobs_to_give() -> None:
    agent = Agent("qa", "question: str -> answer: str, sure: Confidence", model="test")
    with pytest.raises(ConfidenceUnavailableError, match="declare 'sure: float'"):
        agent.execute(question="x")
