"""Signature figures: parsing (cached and cold), compilation to a Kailash workflow, and running it.

- ``signature_parse_us``: ``Signature.parse`` of the three-field QA string (the CACHED case, goal ≤ 20 µs:
  repeated parses hit the syntax cache, as in a notebook re-running a cell);
- ``signature_parse_cold_us``: the same shape with a text never seen before (the full ``ast`` path);
- ``signature_parse_new_text_us``: a four-field signature with a default and a generic, new text every call
  (what a user gets the first time a signature is written);
- ``signature_parse_namespace_us``: a signature naming a notebook type (resolved afresh on every parse);
- ``signature_compile_ms``: ``compile_to_workflow(model="test").build()`` (goal ≤ 1 ms);
- ``compiled_workflow_run_ms``: ``kaizen_lab.runtime.run_workflow`` on LocalRuntime with the test model
  (goal ≤ 0.6 ms), and ``compiled_workflow_raw_run_ms`` for a bare ``LocalRuntime.execute``;
- ``adapter_format_us`` / ``adapter_parse_us``: the JSON adapter's two pure steps.
"""

from __future__ import annotations

import itertools
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

QA = "question: str -> answer: str, confidence: float"


def _median(fn: Callable[[], Any], n: int, repeats: int = 7) -> float:
    """Median over ``repeats`` samples of the mean seconds per call over ``n`` calls."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def run(quick: bool = False) -> dict[str, float]:
    import pydantic

    from kaizen_lab.runtime import local_runtime, run_workflow
    from kaizen_lab.signatures import Signature
    from kaizen_lab.signatures.adapters import JSONAdapter

    scale = 5 if quick else 1
    figures: dict[str, float] = {}

    Signature.parse(QA)
    figures["signature_parse_us"] = _median(lambda: Signature.parse(QA), 20000 // scale) * 1e6

    counter = itertools.count()
    figures["signature_parse_cold_us"] = _median(
        lambda: Signature.parse(f"question{next(counter)}: str -> answer: str, confidence: float"),
        2000 // scale) * 1e6
    # what a user gets for a signature written for the first time (a cache miss every call)
    figures["signature_parse_new_text_us"] = _median(
        lambda: Signature.parse(f"ticket{next(counter)}: str, urgency: int = 1 -> summary: str, tags: list[str]"),
        2000 // scale) * 1e6

    class Ticket(pydantic.BaseModel):
        title: str

    namespace = {"Ticket": Ticket}
    text = "ticket: Ticket -> answer: str, related: list[Ticket]"
    figures["signature_parse_namespace_us"] = _median(lambda: Signature.parse(text, namespace),
                                                      5000 // scale) * 1e6

    sig = Signature(QA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig.compile_to_workflow(model="test").build()
        figures["signature_compile_ms"] = _median(lambda: sig.compile_to_workflow(model="test").build(),
                                                  300 // scale) * 1e3

        workflow = sig.compile_to_workflow(model="test").build()
        inputs = {"question": "What is Kaizen?"}
        for _ in range(20):
            run_workflow(workflow, inputs)
        figures["compiled_workflow_run_ms"] = _median(lambda: run_workflow(workflow, inputs), 300 // scale) * 1e3
        runtime = local_runtime()
        figures["compiled_workflow_raw_run_ms"] = _median(
            lambda: runtime.execute(workflow, parameters=inputs), 300 // scale) * 1e3

    adapter = JSONAdapter()
    figures["adapter_format_us"] = _median(lambda: adapter.format(sig, inputs), 20000 // scale) * 1e6
    answer = 'Here you go: {"answer": "Kaizen is a framework.", "confidence": 0.9}'
    figures["adapter_parse_us"] = _median(lambda: adapter.parse(sig, answer), 20000 // scale) * 1e6
    return {key: round(value, 3) for key, value in figures.items()}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
