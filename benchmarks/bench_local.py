"""The embedded local model: load time, decode speed, peak memory and schema-valid structured output.

Everything runs in fresh subprocesses, so the figures are what a new kernel sees and the parent's memory does
not count: ``local_load_s`` (goal <= 3 s) is the median ``LocalModel().load()`` time over several processes;
``local_decode_tok_per_s`` (goal >= 25 on 2 cores) the median over runs of free-text greedy decoding, prompt
excluded; ``local_peak_rss_mb`` (goal <= 700) the largest ``ru_maxrss`` of a process that loaded the model
and answered every question; ``local_schema_valid_pct`` (goal 100) the share of the 20 test signatures'
answers that parse and validate. ``local_load_cpu_s`` is the CPU time of a load (both threads), and
``local_loadavg_1m`` records how busy the machine was: on shared cores, wall-clock figures degrade with it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_LOAD = """
import json, resource, time
t, cpu = time.perf_counter(), time.process_time()
from kaizen_lab.models.local import LocalModel
LocalModel(backend="numpy").load()
print(json.dumps({"load_s": time.perf_counter() - t, "load_cpu_s": time.process_time() - cpu,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_WORK = """
import json, os, resource, statistics, sys, time
import jsonschema
from kaizen_lab.models.base import Message
from kaizen_lab.models.local import LocalModel
from tests.models.local._schemas import CASES

decode_runs, n_tokens = int(sys.argv[1]), int(sys.argv[2])
model = LocalModel(backend="numpy")
loaded = model.load()
prompt = loaded.tokenizer.encode(
    "<|im_start|>user\\nWrite a long story about a dragon.<|im_end|>\\n<|im_start|>assistant\\n")
rates = []
for _ in range(decode_runs + 1):  # the first run warms the thread tuner up and is not counted
    started, count = None, 0
    for step in loaded.generate(prompt, max_tokens=n_tokens):
        if started is None:  # the first step includes the prompt pass
            started = time.perf_counter()
            continue
        count += len(step.tokens)
    rates.append(count / (time.perf_counter() - started))
valid = 0
for output_type, question in CASES:
    schema = output_type.model_json_schema()
    text = model.request_sync([Message("user", question)], output_schema=schema).text
    try:
        jsonschema.validate(json.loads(text), schema)
        valid += 1
    except Exception:
        pass
print(json.dumps({"tok_s": statistics.median(rates[1:]), "valid_pct": 100.0 * valid / len(CASES),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "loadavg": os.getloadavg()[0]}))
"""


def _python(code: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed: {out.stderr.strip()[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> dict[str, float]:
    loads = [_python(_LOAD) for _ in range(2 if quick else 5)]
    work = _python(_WORK, str(2 if quick else 5), "48" if quick else "64")
    return {
        "local_load_s": round(statistics.median(r["load_s"] for r in loads), 3),
        "local_load_cpu_s": round(statistics.median(r["load_cpu_s"] for r in loads), 3),
        "local_decode_tok_per_s": round(work["tok_s"], 2),
        "local_peak_rss_mb": round(max([work["rss_mb"], *(r["rss_mb"] for r in loads)]), 1),
        "local_schema_valid_pct": round(work["valid_pct"], 1),
        "local_loadavg_1m": round(work["loadavg"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
