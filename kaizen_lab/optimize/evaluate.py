"""Evaluate an agent on a labelled dataset: per-example scores, mean, bootstrap CI, cost and latency.

A dataset item is a dict holding the signature's inputs and the expected outputs (``{"question": ...,
"answer": ...}``). A metric is ``metric(expected: dict, predicted: dict) -> float`` in [0, 1]; the built-ins
compare one field (``field=``) or every expected output field.
"""

from __future__ import annotations

import math
import random
import re
import statistics
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kaizen_lab.errors import KaizenError, UserError, did_you_mean

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

__all__ = [
    "EvaluationReport", "Metric", "bootstrap_ci", "evaluate", "aevaluate", "exact_match", "get_metric",
    "json_field_match", "normalized_match", "numeric_tolerance", "split_example", "token_f1",
]

Metric = Callable[[Mapping[str, Any], Mapping[str, Any]], float]


def split_example(signature: Signature, example: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, expected outputs) of one dataset item, checked against the signature."""
    inputs = {k: v for k, v in example.items() if k in signature.input_names}
    expected = {k: v for k, v in example.items() if k in signature.output_names}
    unknown = [k for k in example if k not in inputs and k not in expected]
    if unknown:
        fields = [*signature.input_names, *signature.output_names]
        raise UserError(f"dataset item has unknown field {unknown[0]!r}{did_you_mean(unknown[0], fields)}; "
                        f"the signature's fields are {fields}")
    if not expected:
        raise UserError(f"dataset item {dict(example)!r} has no expected output; add one of "
                        f"{list(signature.output_names)}")
    return inputs, expected


def _normalize(text: Any) -> str:
    value = str(text).lower().strip()
    value = "".join(ch for ch in value if ch not in string.punctuation)
    value = re.sub(r"\b(a|an|the)\b", " ", value)
    return " ".join(value.split())


def _fields(expected: Mapping[str, Any], field_name: str | None) -> list[str]:
    return [field_name] if field_name else list(expected)


def exact_match(field: str | None = None) -> Metric:
    """1.0 when every compared field is equal (strings compared after stripping)."""
    def metric(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
        for name in _fields(expected, field):
            a, b = expected.get(name), predicted.get(name)
            if isinstance(a, str) and isinstance(b, str):
                a, b = a.strip(), b.strip()
            if a != b:
                return 0.0
        return 1.0

    metric.__name__ = f"exact_match({field or '*'})"
    return metric


def normalized_match(field: str | None = None) -> Metric:
    """Exact match after lower-casing and removing punctuation and articles."""
    def metric(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
        names = _fields(expected, field)
        return float(all(_normalize(expected.get(n)) == _normalize(predicted.get(n)) for n in names))

    metric.__name__ = f"normalized_match({field or '*'})"
    return metric


def token_f1(field: str | None = None) -> Metric:
    """Token-overlap F1 (SQuAD style), averaged over the compared fields."""
    def f1(a: Any, b: Any) -> float:
        gold, pred = _normalize(a).split(), _normalize(b).split()
        if not gold and not pred:
            return 1.0
        common: dict[str, int] = {}
        for tok in pred:
            if tok in gold:
                common[tok] = min(gold.count(tok), pred.count(tok))
        same = sum(common.values())
        if same == 0:
            return 0.0
        precision, recall = same / len(pred), same / len(gold)
        return 2 * precision * recall / (precision + recall)

    def metric(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
        names = _fields(expected, field)
        return sum(f1(expected.get(n), predicted.get(n)) for n in names) / len(names)

    metric.__name__ = f"token_f1({field or '*'})"
    return metric


def numeric_tolerance(field: str | None = None, *, tolerance: float = 1e-6, relative: bool = False) -> Metric:
    """1.0 when the numbers differ by at most ``tolerance`` (relative to the expected value if asked)."""
    def metric(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
        for name in _fields(expected, field):
            try:
                a, b = float(expected.get(name)), float(predicted.get(name))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return 0.0
            limit = tolerance * abs(a) if relative else tolerance
            if not math.isfinite(b) or abs(a - b) > limit:
                return 0.0
        return 1.0

    metric.__name__ = f"numeric_tolerance({field or '*'}, {tolerance})"
    return metric


def json_field_match(fields: Sequence[str], *, normalize: bool = True) -> Metric:
    """Share of the named fields (dotted paths into nested dicts allowed) that match."""
    def get(data: Any, path: str) -> Any:
        for part in path.split("."):
            if hasattr(data, "model_dump"):
                data = data.model_dump()
            if not isinstance(data, Mapping) or part not in data:
                return None
            data = data[part]
        return data

    def metric(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
        hits = 0
        for path in fields:
            a, b = get(expected, path), get(predicted, path)
            hits += (_normalize(a) == _normalize(b)) if normalize else (a == b)
        return hits / len(fields)

    metric.__name__ = f"json_field_match({','.join(fields)})"
    return metric


_BUILTIN: dict[str, Callable[[], Metric]] = {
    "exact_match": exact_match, "normalized_match": normalized_match, "f1": token_f1, "token_f1": token_f1,
    "numeric": numeric_tolerance,
}


def get_metric(metric: str | Metric) -> Metric:
    """A metric from its name (``"exact_match"``, ``"normalized_match"``, ``"f1"``, ``"numeric"``) or a callable."""
    if callable(metric):
        return metric
    try:
        return _BUILTIN[metric]()
    except KeyError:
        raise UserError(f"unknown metric {metric!r}{did_you_mean(metric, _BUILTIN)}; use one of "
                        f"{sorted(_BUILTIN)} or pass a function (expected, predicted) -> float") from None


def bootstrap_ci(scores: Sequence[float], *, confidence: float = 0.95, resamples: int = 1000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic for a seed)."""
    if not scores:
        return (0.0, 0.0)
    if len(set(scores)) == 1:
        return (float(scores[0]), float(scores[0]))
    rng = random.Random(seed)
    n = len(scores)
    means = sorted(sum(rng.choices(scores, k=n)) / n for _ in range(resamples))
    lo = means[int((1 - confidence) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + confidence) / 2 * resamples))]
    return (lo, hi)


@dataclass(frozen=True, repr=False)
class EvaluationReport:
    """Scores of one evaluation; ``records`` hold each example's inputs, expected, predicted and score."""

    scores: list[float]
    mean: float
    ci: tuple[float, float]
    records: list[dict[str, Any]]
    errors: int
    model_calls: int
    cost: float | None
    latency_ms: float
    metric: str = ""

    @property
    def n(self) -> int:
        return len(self.scores)

    def summary(self) -> dict[str, Any]:
        return {"n": self.n, "mean": round(self.mean, 4), "ci": [round(x, 4) for x in self.ci],
                "errors": self.errors, "model_calls": self.model_calls, "cost": self.cost,
                "latency_ms": round(self.latency_ms, 2), "metric": self.metric}

    def __repr__(self) -> str:
        cost = f", cost ${self.cost:.4f}" if self.cost is not None else ""
        return (f"EvaluationReport({self.metric or 'metric'}: mean {self.mean:.3f}, 95% CI [{self.ci[0]:.3f}, "
                f"{self.ci[1]:.3f}], n={self.n}, {self.errors} errors, {self.model_calls} model calls{cost})")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """A card: the score with its interval, then the examples that missed (the ones worth reading)."""
        import html

        def cell(value: Any) -> str:
            text = str(value)
            return html.escape(text if len(text) <= 80 else text[:80] + "…")

        missed = sorted((r for r in self.records if r["score"] < 1.0), key=lambda r: r["score"])[:10]
        rows = "".join(f"<tr><td>{cell(r['inputs'])}</td><td>{cell(r['expected'])}</td>"
                       f"<td>{cell(r.get('error') or r['predicted'])}</td><td>{r['score']:.2f}</td></tr>"
                       for r in missed)
        table = (f"<table><tr><th>inputs</th><th>expected</th><th>predicted</th><th>score</th></tr>{rows}</table>"
                 if missed else "<div>every example scored 1.0</div>")
        cost = f" · cost ${self.cost:.4f}" if self.cost is not None else ""
        body = (f"<div class='kaizen-evaluation'><b>Evaluation</b> <code>{html.escape(self.metric)}</code>: "
                f"mean <b>{self.mean:.3f}</b> (95% CI {self.ci[0]:.3f}–{self.ci[1]:.3f}) over {self.n} examples · "
                f"{self.errors} errors · {self.model_calls} model calls{cost}"
                f"{'<div>lowest-scoring examples:</div>' if missed else ''}{table}</div>")
        return {"text/plain": repr(self), "text/html": body}


async def aevaluate(agent: Agent, dataset: Sequence[Mapping[str, Any]], metric: str | Metric = "exact_match", *,
                    concurrency: int = 8, seed: int = 0, progress: bool | None = None) -> EvaluationReport:
    """Run ``agent`` on every item and score it; a failed run scores 0 and is counted in ``errors``.

    ``progress``: ``True``/``False`` forces the progress bar on or off (default: shown when someone watches).
    """
    from kaizen_lab._progress import progress_bar

    if not dataset:
        raise UserError("the dataset is empty; evaluate needs at least one labelled example")
    score_fn = get_metric(metric)
    pairs = [split_example(agent.signature, item) for item in dataset]
    with progress_bar(len(pairs), f"evaluate {agent.agent_id}", enabled=progress) as bar:
        outcomes = await agent.abatch([p[0] for p in pairs], concurrency=concurrency, return_exceptions=True,
                                      progress=(lambda done, total: bar.update()) if bar.active else False)
    scores: list[float] = []
    records: list[dict[str, Any]] = []
    errors = calls = 0
    cost: float | None = None
    latency = 0.0
    for (inputs, expected), outcome in zip(pairs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, KaizenError) or isinstance(outcome, UserError):
                raise outcome
            errors += 1
            calls += sum(1 for e in outcome.events if getattr(e, "kind", "") == "model_called")
            scores.append(0.0)
            records.append({"inputs": inputs, "expected": expected, "predicted": None, "score": 0.0,
                            "error": str(outcome).splitlines()[0]})
            continue
        value = float(score_fn(expected, outcome.data))
        scores.append(value)
        meta = outcome.metadata
        calls += meta.model_calls
        latency += meta.duration_ms
        if meta.cost is not None:
            cost = (cost or 0.0) + meta.cost
        records.append({"inputs": inputs, "expected": expected, "predicted": outcome.data, "score": value})
    mean = statistics.fmean(scores)
    return EvaluationReport(scores, mean, bootstrap_ci(scores, seed=seed), records, errors, calls, cost, latency,
                            getattr(score_fn, "__name__", "metric"))


def evaluate(agent: Agent, dataset: Sequence[Mapping[str, Any]], metric: str | Metric = "exact_match", *,
             concurrency: int = 8, seed: int = 0, progress: bool | None = None) -> EvaluationReport:
    """Sync form of ``aevaluate``."""
    from kaizen_lab._aio import run_sync

    return run_sync(aevaluate(agent, dataset, metric, concurrency=concurrency, seed=seed, progress=progress))


