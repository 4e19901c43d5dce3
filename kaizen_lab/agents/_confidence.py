"""The answer's probability, read from the model's token log-probabilities.

The model writes the answer (a JSON object for the JSON adapter); its reported tokens tile that text byte for
byte. The answer field's value is located in the text (its span in the JSON object, quotes included: the
closing quote is the model's decision that the answer ends there), and the tokens overlapping that span are the
answer's tokens. Their summed log-probability is the answer's log-probability (``result.metadata.answer_logprob``).

One text can be written by several token sequences (``"Par"+"is"`` or ``"Paris"``; ``"s"+"ports"`` or
``"sp"+"orts"``), and the model's probability for the answer is split between them. When the model reported
the most likely alternatives at each step (an agent with a ``Confidence`` output asks for 10), every
alternative that also spells the text that follows counts towards that step, so each step scores the
probability that the model's next characters agree with the answer, however they are split into tokens.

A ``Confidence`` output is the resulting joint probability, ``exp(sum)``: the probability the model gave to
writing this answer and ending it there. On the labelled set shipped with the tests
(``tests/data/confidence_items.jsonl``, 129 items, local model) it separated right from wrong answers with an
AUROC of 0.73 (0.72 counting the chosen tokens only), against 0.62 for the geometric mean of the token
probabilities, 0.69 for the least likely token and 0.45 for the first token: a small model's wrong answers
are often long or hesitant, which a mean averages away. Probabilities are those the engine sampled from: with
a grammar, renormalised over the tokens it allowed (full-vocabulary probabilities scored 0.69 on the same set).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from kaizen_lab.models.base import TokenLogprob

__all__ = ["AnswerScore", "answer_score", "value_span"]

_WS = " \t\n\r"


class AnswerScore:
    """The answer field's token log-probabilities and the two numbers derived from them."""

    __slots__ = ("logprobs",)

    def __init__(self, logprobs: Sequence[float]) -> None:
        self.logprobs = tuple(logprobs)

    @property
    def logprob(self) -> float:
        """Log-probability of the whole answer value (the sum over its tokens)."""
        return float(sum(self.logprobs))

    @property
    def confidence(self) -> float:
        """Probability of the whole answer value, ``exp(logprob)``, in [0, 1]."""
        return min(1.0, max(0.0, math.exp(self.logprob)))


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _object_value_span(text: str, i: int, name: str, decoder: json.JSONDecoder) -> tuple[int, int] | None:
    """The span of key ``name``'s value in the JSON object starting at ``text[i] == '{'``."""
    i = _skip(text, i + 1)
    while i < len(text) and text[i] == '"':
        key, i = scanstring(text, i + 1)
        i = _skip(text, i)
        if i >= len(text) or text[i] != ":":
            return None
        start = _skip(text, i + 1)
        _, end = decoder.raw_decode(text, start)
        if key == name:
            return start, end
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
    return None


def value_span(text: str, name: str, value: Any = None) -> tuple[int, int] | None:
    """Character span of output ``name``'s value in the model's ``text``: in the first JSON object holding the
    key, else (answers in other formats) the last place the value's text appears; ``None`` when not found."""
    decoder = json.JSONDecoder()
    at = text.find("{")
    while at >= 0:
        try:
            span = _object_value_span(text, at, name, decoder)
        except ValueError:
            span = None
        if span is not None:
            return span
        at = text.find("{", at + 1)
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
        found = text.rfind(str(value))
        if found >= 0:
            return found, found + len(str(value))
    return None


def _same_text_logprob(token: TokenLogprob, rest: bytes) -> float:
    """Log of the probability, at this step, of the tokens that spell the start of ``rest`` (the chosen one
    and any reported alternative that is another split of the same text)."""
    agreeing = [lp for alt, lp in token.top if rest.startswith(alt.encode())]
    if not agreeing:
        return token.logprob
    total = math.log(sum(math.exp(lp) for lp in agreeing))
    return min(0.0, max(total, token.logprob))  # the chosen token always counts; never above certainty


def answer_score(tokens: Sequence[TokenLogprob] | None, text: str, name: str,
                 value: Any = None) -> AnswerScore | None:
    """The log-probabilities of the tokens that wrote output ``name`` in ``text``; ``None`` when the model
    reported none, or its tokens do not spell ``text``, or the value cannot be found."""
    if not tokens:
        return None
    raw = text.encode()
    joined = b"".join(t.data for t in tokens)
    if not raw.startswith(joined) and not joined.startswith(raw):
        return None
    span = value_span(text, name, value)
    if span is None:
        return None
    lo, hi = len(text[:span[0]].encode()), len(text[:span[1]].encode())
    picked: list[float] = []
    at = 0
    for token in tokens:
        end = at + len(token.data)
        if at < hi and end > lo:
            picked.append(_same_text_logprob(token, raw[at:]))
        at = end
        if at >= hi:
            break
    return AnswerScore(picked) if picked else None
