"""Confidence from the embedded model's own probabilities, against the number it generates.

The labelled set shipped with the tests (``tests/data/confidence_items.jsonl``: short answers and
classifications, some the model gets right, some wrong) is answered twice by the local model, greedily:
once with ``confidence: Confidence`` (computed from the answer's token probabilities) and once with
``confidence: float`` (a number the model writes). ``local_confidence_auroc`` (goal >= 0.70) is how well the
computed confidence separates right from wrong answers; ``local_generated_confidence_auroc`` the same for the
generated number (~0.5: it means nothing), over the answers that parsed (``local_generated_confidence_unparsed``
counts those that did not: a generated number can run on past the token budget). ``local_confidence_accuracy_pct`` is the share of right answers,
``local_confidence_s_per_item`` the wall time per item, and ``local_confidence_loadavg_1m`` how busy the
machine was. Runs in a fresh subprocess so the model's memory does not count against the harness.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_WORK = """
import json, os, sys, time
from kaizen_lab.models.local import LocalModel
from tests.models.local._confidence_set import auroc, load_items, run_items

items = load_items()[::int(sys.argv[1])]
model = LocalModel(backend="numpy")
model.load()
started = time.perf_counter()
computed = run_items(model, items)
seconds = time.perf_counter() - started
failed = []
generated = run_items(model, items, confidence=float, failures=failed)
print(json.dumps({
    "auroc": auroc([ok for ok, _, _ in computed], [c for _, c, _ in computed]),
    "generated_auroc": auroc([ok for ok, _, _ in generated], [c for _, c, _ in generated]),
    "generated_failures": len(failed), "accuracy": sum(ok for ok, _, _ in computed) / len(computed), "items": len(items),
    "s_per_item": seconds / len(items), "loadavg": os.getloadavg()[0]}))
"""


def _python(code: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed: {out.stderr.strip()[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> dict[str, float]:
    work = _python(_WORK, "2" if quick else "1")  # --quick answers every other item
    return {
        "local_confidence_auroc": round(work["auroc"], 3),
        "local_generated_confidence_auroc": round(work["generated_auroc"], 3),
        "local_generated_confidence_unparsed": work["generated_failures"],
        "local_confidence_accuracy_pct": round(100.0 * work["accuracy"], 1),
        "local_confidence_items": work["items"],
        "local_confidence_s_per_item": round(work["s_per_item"], 3),
        "local_confidence_loadavg_1m": round(work["loadavg"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
