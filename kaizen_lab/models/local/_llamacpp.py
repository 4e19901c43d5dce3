"""Optional faster backend: llama.cpp (``llama_cpp`` from llama-cpp-python) running the same GGUF file.

Only the forward pass moves to llama.cpp; tokenization, the chat template, sampling and the llguidance
grammar stay ours, so both backends produce answers under exactly the same rules. Used automatically when
``llama_cpp`` is importable (``KAIZEN_LOCAL_BACKEND=numpy`` forces the numpy engine); never required.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["LlamaCppSession", "load_llama_cpp"]

# The context llama.cpp allocates up front; answers from a local model are short.
_MAX_CONTEXT = 4096


def load_llama_cpp(path: str, context_length: int) -> Any:
    import llama_cpp

    return llama_cpp.Llama(model_path=path, n_ctx=min(context_length, _MAX_CONTEXT),
                           n_threads=max(1, len(os.sched_getaffinity(0))), logits_all=False, verbose=False)


class LlamaCppSession:
    """One decoding run on the shared ``Llama`` object (runs are serialised by the caller)."""

    def __init__(self, llm: Any, capacity: int) -> None:
        if capacity > llm.n_ctx():
            raise ValueError(f"{capacity} tokens exceed the llama.cpp context of {llm.n_ctx()}")
        self._llm = llm
        llm.reset()

    def feed(self, tokens: Sequence[int], on_chunk: Callable[[int, int], None] | None = None) -> None:
        # llama.cpp batches the prompt itself (n_batch tokens at a time); progress comes per batch of ours
        ids = list(tokens)
        step = max(1, int(getattr(self._llm, "n_batch", 512) or 512))
        for a in range(0, len(ids), step):
            self._llm.eval(ids[a:a + step])
            if on_chunk is not None:
                on_chunk(min(len(ids), a + step), len(ids))

    def next_logits(self, rows: np.ndarray | None = None) -> np.ndarray:
        logits = np.asarray(self._llm.scores[self._llm.n_tokens - 1], dtype=np.float32)
        return logits if rows is None else logits[rows]
