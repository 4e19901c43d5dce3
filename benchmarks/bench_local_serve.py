"""The OpenAI-compatible endpoint of the embedded model: what HTTP, validation and SSE add to an answer.

Each round asks the same short greedy question directly (``LocalModel.request``) and through the endpoint with
the official ``openai`` client, interleaved so load on shared cores hits both alike: ``local_serve_ratio`` is
the median of endpoint time / direct time (1.0 = no overhead), ``local_serve_overhead_ms`` the median
difference. ``local_serve_first_chunk_ms`` is the median time from sending a streamed request to its first
content chunk (the prompt pass plus one token), ``local_serve_tok_per_s`` the streamed tokens per second after
it. ``local_serve_loadavg_1m`` records how busy the machine was.
"""

from __future__ import annotations

import os
import statistics
import time

from benchmarks.run import repeats

QUESTION = "What is the capital of France?"


def run() -> dict[str, float]:
    import openai

    from kaizen_lab.models.base import Message, ModelSettings
    from kaizen_lab.models.local import LocalModel, serve

    model = LocalModel(backend="numpy")
    ratios, overheads, first_chunks, rates = [], [], [], []
    with serve(model) as server:
        client = openai.OpenAI(base_url=server.url, api_key=server.api_key, max_retries=0)
        messages = [{"role": "user", "content": QUESTION}]
        model.request_sync([Message("user", QUESTION)], settings=ModelSettings(max_tokens=8))  # warm up
        for _ in range(repeats(10)):
            started = time.perf_counter()
            model.request_sync([Message("user", QUESTION)], settings=ModelSettings(max_tokens=8))
            direct = time.perf_counter() - started
            started = time.perf_counter()
            client.chat.completions.create(model="local", messages=messages, max_tokens=8)  # type: ignore[arg-type]
            served = time.perf_counter() - started
            ratios.append(served / direct)
            overheads.append((served - direct) * 1000.0)
            started = time.perf_counter()
            first = None
            count = 0
            stream = client.chat.completions.create(model="local", messages=messages, max_tokens=32,  # type: ignore[arg-type]
                                                    stream=True, logprobs=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].logprobs and chunk.choices[0].logprobs.content:
                    if first is None:
                        first = time.perf_counter()
                    else:
                        count += len(chunk.choices[0].logprobs.content)
            if first is not None:
                first_chunks.append((first - started) * 1000.0)
                if count:
                    rates.append(count / (time.perf_counter() - first))
    return {
        "local_serve_ratio": round(statistics.median(ratios), 3),
        "local_serve_overhead_ms": round(statistics.median(overheads), 1),
        "local_serve_first_chunk_ms": round(statistics.median(first_chunks), 1),
        "local_serve_tok_per_s": round(statistics.median(rates), 1) if rates else 0.0,
        "local_serve_loadavg_1m": round(os.getloadavg()[0], 2),
    }
