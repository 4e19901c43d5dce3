"""The embedded local model: load time, first answer, prompt pass, decode speed, peak memory, schema validity.

Everything runs in fresh subprocesses, so the figures are what a new kernel sees and the parent's memory does
not count.

- ``local_load_s`` (goal <= 3 s): median ``LocalModel().load(warm=False)`` time over several processes;
  ``local_load_cpu_s`` its CPU time (both threads).
- ``local_first_answer_cold_s`` (goal <= 2 s): a whole fresh process, measured from outside: start Python,
  import kaizen_lab, load the model, answer one question, exit (median over processes).
- ``local_prefill_tok_per_s``: prompt tokens read per second in a ~1,000-token prompt pass (warm process).
- ``local_prompt_600_s`` (goal <= 1 s) and ``local_long_prompt_4k_s`` (goal <= 10 s): a ~600- and a
  ~4,000-token prompt answered (a few tokens) through ``request_sync``, warm process.
- ``local_decode_tok_per_s`` (goal >= 50 on 2 idle cores): free-text greedy decoding in a fresh process,
  the first generation included (as users get it), prompt pass excluded: all tokens over all decode time.
  ``local_decode_warm_tok_per_s`` is the earlier figure: median of the runs after the first.
  ``local_decode_incl_prompt_tok_per_s`` counts the prompt pass's time too.
- ``local_peak_rss_mb`` (goal <= 700): the largest ``ru_maxrss`` of the load and decode processes;
  ``local_long_prompt_peak_rss_mb`` that of the process that read the ~4,000-token prompts (its KV cache
  alone is ~190 MB).
- ``local_schema_valid_pct`` (goal 100): share of the 20 test signatures' answers that parse and validate.
- ``local_loadavg_1m`` / ``local_loadavg_1m_end``: how busy the machine was at the start and at the end: on
  shared cores every wall-clock figure degrades with it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_LOAD = """
import json, resource, time
t, cpu = time.perf_counter(), time.process_time()
from kaizen_lab.models.local import LocalModel
LocalModel(backend="numpy").load(warm=False)
print(json.dumps({"load_s": time.perf_counter() - t, "load_cpu_s": time.process_time() - cpu,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_COLD = """
from kaizen_lab.models.base import Message
from kaizen_lab.models.local import LocalModel
text = LocalModel(backend="numpy").request_sync([Message("user", "What is the capital of France?")]).text
assert "Paris" in text, text
"""

_PROMPTS = """
import json, resource, statistics, sys, time
from kaizen_lab.models.base import Message, ModelSettings
from kaizen_lab.models.local import LocalModel

model = LocalModel(backend="numpy", timeout=600)
loaded = model.load()  # warmed, as a server or a notebook that called load() has it
note = ("The town library opens at nine in the morning and closes at six in the evening, except on Sundays. "
        "Members may borrow up to five books for three weeks. ")
unit = len(loaded.tokenizer.encode(note))

def answer(n_tokens):
    text = note * max(1, n_tokens // unit)
    messages = [Message("user", text + "\\nQuestion: when does the library open?")]
    started = time.perf_counter()
    reply = model.request_sync(messages, settings=ModelSettings(max_tokens=8))
    return time.perf_counter() - started, reply.usage.input_tokens

ids = loaded.tokenizer.encode(note * (1000 // unit))
rates = []
for _ in range(int(sys.argv[1])):  # the prompt pass as a generation runs it (thread choice included)
    steps = loaded.generate(ids, max_tokens=1)
    started = time.perf_counter()
    next(steps)
    rates.append(len(ids) / (time.perf_counter() - started))
    steps.close()
short = [answer(600) for _ in range(int(sys.argv[1]))]
long = [answer(4000) for _ in range(max(1, int(sys.argv[1]) - 1))]
print(json.dumps({"prefill_tok_s": statistics.median(rates),
                  "p600_s": statistics.median(s for s, _ in short), "p600_tokens": short[0][1],
                  "p4k_s": statistics.median(s for s, _ in long), "p4k_tokens": long[0][1],
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
loaded = model.load(warm=False)  # not warmed: the first generation is counted as users get it
prompt = loaded.tokenizer.encode(
    "<|im_start|>user\\nWrite a long story about a dragon.<|im_end|>\\n<|im_start|>assistant\\n")
rates, decode_tokens, decode_s, total_s = [], 0, 0.0, 0.0
for _ in range(decode_runs + 1):
    began = time.perf_counter()
    started, count = None, 0
    for step in loaded.generate(prompt, max_tokens=n_tokens):
        if started is None:  # the first step includes the prompt pass
            started = time.perf_counter()
            continue
        count += len(step.tokens)
    ended = time.perf_counter()
    rates.append(count / (ended - started))
    decode_tokens += count
    decode_s += ended - started
    total_s += ended - began
valid = 0
for output_type, question in CASES:
    schema = output_type.model_json_schema()
    text = model.request_sync([Message("user", question)], output_schema=schema).text
    try:
        jsonschema.validate(json.loads(text), schema)
        valid += 1
    except Exception:
        pass
print(json.dumps({"tok_s": decode_tokens / decode_s, "warm_tok_s": statistics.median(rates[1:]),
                  "incl_prompt_tok_s": (decode_tokens + decode_runs + 1) / total_s,
                  "valid_pct": 100.0 * valid / len(CASES),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "KAIZEN_PROGRESS": "false"}


def _python(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed: {out.stderr.strip()[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _cold() -> float:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _COLD], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed: {out.stderr.strip()[-2000:]}")
    return time.perf_counter() - started


def run(quick: bool = False) -> dict[str, float]:
    load_start = os.getloadavg()[0]
    loads = [_python(_LOAD) for _ in range(2 if quick else 5)]
    cold = [_cold() for _ in range(2 if quick else 3)]
    prompts = _python(_PROMPTS, "2" if quick else "3")
    work = _python(_WORK, str(2 if quick else 5), "48" if quick else "64")
    return {
        "local_load_s": round(statistics.median(r["load_s"] for r in loads), 3),
        "local_load_cpu_s": round(statistics.median(r["load_cpu_s"] for r in loads), 3),
        "local_first_answer_cold_s": round(statistics.median(cold), 3),
        "local_prefill_tok_per_s": round(prompts["prefill_tok_s"], 1),
        "local_prompt_600_s": round(prompts["p600_s"], 3),
        "local_prompt_600_tokens": prompts["p600_tokens"],
        "local_long_prompt_4k_s": round(prompts["p4k_s"], 3),
        "local_long_prompt_4k_tokens": prompts["p4k_tokens"],
        "local_decode_tok_per_s": round(work["tok_s"], 2),
        "local_decode_warm_tok_per_s": round(work["warm_tok_s"], 2),
        "local_decode_incl_prompt_tok_per_s": round(work["incl_prompt_tok_s"], 2),
        "local_peak_rss_mb": round(max([work["rss_mb"], *(r["rss_mb"] for r in loads)]), 1),
        "local_long_prompt_peak_rss_mb": round(prompts["rss_mb"], 1),
        "local_schema_valid_pct": round(work["valid_pct"], 1),
        "local_loadavg_1m": round(load_start, 2),
        "local_loadavg_1m_end": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
