"""The labelled confidence set (tests/data/confidence_items.jsonl) and how an answer is scored against it.

Short-answer items list the accepted answers (an answer is right when it contains one, case-insensitively);
classification items list the labels and the right one. Shared by the AUROC test and ``bench_confidence``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from kaizen_lab import Agent, Confidence, Signature
from kaizen_lab.errors import OutputParseError
from kaizen_lab.models.base import ModelBase
from kaizen_lab.signatures.fields import FieldSpec

ITEMS_PATH = Path(__file__).resolve().parents[2] / "data" / "confidence_items.jsonl"
INSTRUCTIONS = "Answer the question in as few words as possible."


def load_items() -> list[dict[str, Any]]:
    with ITEMS_PATH.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def is_correct(item: dict[str, Any], answer: Any) -> bool:
    if item["kind"] == "label":
        return str(answer) == item["answer"]
    said = f" {_norm(str(answer))} "
    return any(f" {_norm(a)} " in said for a in item["answers"])


def signature_for(item: dict[str, Any], confidence: Any = Confidence) -> Signature:
    """The item's signature: a short free-text answer, or one of its labels; ``confidence`` typed as given
    (``Confidence`` computes it, ``float`` asks the model for a number)."""
    if item["kind"] == "label":
        answer = FieldSpec("answer", Literal[tuple(item["labels"])], role="output")
    else:
        answer = FieldSpec("answer", str, role="output", constraints=(("max_length", 40),))
    return Signature(inputs=[FieldSpec("question", str)],
                     outputs=[answer, FieldSpec("confidence", confidence, role="output")],
                     instructions=INSTRUCTIONS, name="Item")


def run_items(model: ModelBase, items: Sequence[dict[str, Any]], *, confidence: Any = Confidence,
              failures: list[str] | None = None) -> list[tuple[bool, float, float | None]]:
    """``(correct, confidence, answer_logprob)`` per item, one agent per label set, run one after another.

    With ``failures`` given, an answer that does not parse (a generated number can run past the token budget)
    is left out and its question appended there; otherwise the error propagates.
    """
    agents: dict[str, Agent] = {}
    out = []
    for item in items:
        key = json.dumps(item.get("labels"))
        if key not in agents:
            agents[key] = Agent(f"item{len(agents)}", signature_for(item, confidence), model=model,
                                max_retries=0)
        try:
            result = agents[key].execute(question=item["question"])
        except OutputParseError:
            if failures is None:
                raise
            failures.append(item["question"])
            continue
        out.append((is_correct(item, result.answer), float(result.confidence), result.metadata.answer_logprob))
    return out


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a right answer scores above a wrong one (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        raise ValueError("AUROC needs both right and wrong answers")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))
