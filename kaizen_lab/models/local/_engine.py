"""The loaded model (weights, tokenizer, chat template) and the token-by-token generation loop.

One ``LoadedModel`` per file per process, built on first use and kept in a module-level cache guarded by a
lock, so concurrent first requests load once. Generation is a plain Python generator run in a worker thread by
``LocalModel``; it is backend-agnostic: a backend session only has to ``feed`` tokens and return next-token
logits (the numpy engine here, or llama.cpp when it is installed).
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from kaizen_lab.models.local._constrained import JsonConstraint, compile_json_schema
from kaizen_lab.models.local._sampling import choose, log_normaliser, top_alternatives
from kaizen_lab.models.local._threads import BlasThreadTuner, CpuWatch
from kaizen_lab.models.local._tokenizer import Tokenizer, build_tokenizer

__all__ = ["GenerationStep", "LoadedModel", "blas_tuner", "get_loaded", "loaded_models"]

Progress = Callable[[float, str], None]
#: up to this many allowed tokens, only their rows of the output head are multiplied (~9 MB of rows)
_PARTIAL_LOGITS_MAX_ROWS = 4096


class Session(Protocol):
    """One decoding run's state inside a backend."""

    def feed(self, tokens: Sequence[int], on_chunk: Callable[[int, int], None] | None = None) -> None: ...

    def next_logits(self, rows: np.ndarray | None = None) -> np.ndarray: ...


class _NumpySession:
    __slots__ = ("_cache", "_engine", "_hidden")

    def __init__(self, engine: Any, capacity: int) -> None:
        self._engine = engine
        self._cache = engine.new_cache(capacity)
        self._hidden: np.ndarray | None = None

    def feed(self, tokens: Sequence[int], on_chunk: Callable[[int, int], None] | None = None) -> None:
        self._hidden = self._engine.hidden(tokens, self._cache, on_chunk=on_chunk)

    def next_logits(self, rows: np.ndarray | None = None) -> np.ndarray:
        assert self._hidden is not None, "feed() first"
        return self._engine.logits(self._hidden, rows)


@dataclass(slots=True)
class GenerationStep:
    """What one step of the loop produced: new token ids, the text they complete, and the finish state.

    ``logprobs[i]`` is the natural-log probability of ``tokens[i]`` at temperature 1 (whatever temperature
    sampled it) under the distribution it was drawn from: the full vocabulary without a grammar, and the
    tokens the grammar allowed at that step with one (the model's probabilities renormalised over them). A token
    the grammar forces was the only choice, so it scores 0.0. ``top_logprobs[i]``, filled when ``generate``
    is asked for ``top_logprobs=k``, lists the ``k`` most likely ``(token id, log-probability)`` choices at
    that step from the same distribution, best first.
    """

    tokens: list[int]
    text: str
    finish_reason: str | None = None  # "stop" | "length" | None while running
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)


@dataclass
class LoadedModel:
    """Everything needed to generate from one GGUF file."""

    path: str
    metadata: dict[str, Any]
    tokenizer: Tokenizer
    backend: str
    chat_template: str | None
    context_length: int
    load_seconds: float
    _engine: Any = None
    _ll_tokenizer: Any = None
    config: Any = None  # the LlamaConfig (shapes, for predicting prompt-pass times)
    #: measured prompt-pass speed in work units per second (see ``prompt_work``); ``None`` until measured
    prefill_rate: float | None = None
    _grammars: dict[str, str] = field(default_factory=dict)
    _warm: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _run_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stop_ids(self) -> frozenset[int]:
        """Control tokens end a free-text answer (EOS, or the start of another chat turn)."""
        return frozenset({self.tokenizer.eos_id, *self.tokenizer.special.values()})

    def ll_tokenizer(self) -> Any:
        """llguidance's view of the vocabulary (built at load when llguidance is installed)."""
        with self._lock:
            if self._ll_tokenizer is None:
                import llguidance

                self._ll_tokenizer = llguidance.LLTokenizer(self.tokenizer.json, eos_token=self.tokenizer.eos_id,
                                                            slices=[])
            return self._ll_tokenizer

    def grammar(self, schema_json: str, schema: dict[str, Any]) -> str:
        with self._lock:
            cached = self._grammars.get(schema_json)
        if cached is None:
            cached = compile_json_schema(schema, self.ll_tokenizer())
            with self._lock:
                self._grammars[schema_json] = cached
        return cached

    def session(self, capacity: int) -> Session:
        if self.backend == "llama_cpp":
            from kaizen_lab.models.local._llamacpp import LlamaCppSession

            return LlamaCppSession(self._engine, capacity)
        return _NumpySession(self._engine, capacity)

    def generate(self, prompt: Sequence[int], *, max_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, grammar: str | None = None,
                 cancel: threading.Event | None = None, top_logprobs: int = 0, timeout: float | None = None,
                 on_prompt: Callable[[int, int], None] | None = None,
                 max_field_tokens: int | None = None) -> Iterator[GenerationStep]:
        """Yield steps until EOS, the grammar's end, ``max_tokens`` or ``cancel``.

        With ``grammar`` each step samples only among the tokens it allows, and tokens it forces are fed in
        one batch without sampling. Text is decoded incrementally, so a character split across tokens appears
        once complete. Every token carries its log-probability (see ``GenerationStep``); ``top_logprobs=k``
        adds the ``k`` best alternatives per token.

        Bounded waits: with ``timeout`` (seconds) a prompt pass predicted to take longer raises
        ``PromptTooSlowError`` before it starts, and a run still going at the deadline raises
        ``KaizenTimeoutError`` (checked between prompt blocks and between tokens) with the text so far as
        ``partial``. ``on_prompt(done, total)`` reports the prompt pass block by block. With a grammar,
        ``max_field_tokens`` ends the answer (``finish_reason="length"``) when one value runs longer than that
        many sampled tokens in a row (the grammar's forced keys and punctuation start a new count).
        """
        if len(prompt) + 1 > self.context_length:
            raise ValueError(f"the prompt has {len(prompt)} tokens; the local model's context holds "
                             f"{self.context_length}")
        max_tokens = max(0, min(max_tokens, self.context_length - len(prompt)))
        with self._run_lock:  # one run at a time: concurrent runs would only split the same two cores
            started = time.monotonic()
            text: list[str] = []
            try:
                if timeout is not None:
                    self._check_prompt_time(len(prompt), timeout)
                for step in self._generate(list(prompt), max_tokens, temperature, top_p, seed, grammar, cancel,
                                           _Limits(None if timeout is None else started + timeout, timeout, on_prompt,
                                                   max_field_tokens), max(0, top_logprobs)):
                    text.append(step.text)
                    yield step
            except _DeadlinePassed as exc:
                from kaizen_lab.errors import KaizenTimeoutError

                where = "during the prompt pass" if exc.in_prompt else "while answering"
                raise KaizenTimeoutError(
                    f"the local model did not finish within {timeout:g} s (stopped {where}, "
                    f"{time.monotonic() - started:.1f} s in); raise settings.timeout (or the `local.timeout` "
                    "configuration), lower max_tokens or shorten the prompt", seconds=timeout,
                    partial="".join(text)) from None
            finally:
                if self.backend == "numpy":
                    blas_tuner().restore()
                _release_freed_memory(collect=False)  # the KV cache and step temporaries

    def predict_prompt_seconds(self, n_tokens: int, start: int = 0) -> float | None:
        """How long a prompt pass over ``n_tokens`` (after ``start`` cached ones) should take at the measured
        rate; ``None`` before any prompt pass was measured (``warm_up`` measures one)."""
        if self.prefill_rate is None or n_tokens <= 1:
            return None
        return prompt_work(self.config, n_tokens, start) / self.prefill_rate

    def _check_prompt_time(self, n_tokens: int, timeout: float, predicted: float | None = None) -> None:
        """Raise ``PromptTooSlowError`` when a pass over ``n_tokens`` is predicted to outlast ``timeout``: by
        ``PREDICTION_MARGIN`` when predicted from the kept speed (measured earlier, perhaps on a busier or
        idler machine), by any amount when ``predicted`` comes from this very pass."""
        margin = 1.0
        if predicted is None:
            predicted = self.predict_prompt_seconds(n_tokens)
            margin = PREDICTION_MARGIN
        if predicted is None or predicted <= timeout * margin:
            return
        from kaizen_lab.errors import PromptTooSlowError

        rate = n_tokens / predicted
        fits = _tokens_within(self.config, timeout, self.prefill_rate or 0.0)
        shorten = f"shorten the prompt to about {fits} tokens, " if fits >= _MIN_MEASURED_PROMPT else ""
        raise PromptTooSlowError(
            f"the prompt has {n_tokens} tokens, and reading it would take about {predicted:.1f} s here "
            f"(~{rate:.0f} tokens/s at the speed this machine measured), more than the {timeout:g} s timeout. "
            f"Raise settings.timeout (ModelSettings(timeout={max(10, round(predicted * 1.5))}), or the "
            f"`local.timeout` configuration), {shorten}or use a hosted model",
            seconds=timeout, predicted_seconds=predicted, prompt_tokens=n_tokens)

    def _record_prefill(self, n_tokens: int, start: int, seconds: float) -> None:
        """Keep the prompt-pass speed (work units per second, an exponential moving average)."""
        if n_tokens < _MIN_MEASURED_PROMPT or seconds <= 0:
            return
        rate = prompt_work(self.config, n_tokens, start) / seconds
        old = self.prefill_rate
        self.prefill_rate = rate if old is None else (1 - _RATE_ALPHA) * old + _RATE_ALPHA * rate

    def _generate(self, prompt: list[int], max_tokens: int, temperature: float, top_p: float,
                  seed: int | None, grammar: str | None, cancel: threading.Event | None,
                  limits: _Limits, top_k: int = 0) -> Iterator[GenerationStep]:
        tok = self.tokenizer
        rng = np.random.default_rng(seed) if temperature > 0.0 else None
        constraint = JsonConstraint(grammar, self.ll_tokenizer(), tok.vocab_size) if grammar else None
        session = self.session(len(prompt) + max_tokens + 1)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stop_ids = self.stop_ids
        tuner = blas_tuner() if self.backend == "numpy" else None
        deadline = limits.deadline
        pending = prompt
        produced = 0
        in_value = 0  # sampled tokens since the grammar last forced one
        first = True
        while True:
            if cancel is not None and cancel.is_set():
                yield GenerationStep([], decoder.decode(b"", final=True), "stop")
                return
            if deadline is not None and time.monotonic() > deadline:
                raise _DeadlinePassed(in_prompt=False)
            forced: list[int] = []
            if constraint is not None:
                forced = constraint.forced()[: max_tokens - produced]
                if forced:
                    in_value = 0
                    constraint.consume(forced)
                    produced += len(forced)
                    pending = pending + forced
                    yield GenerationStep(forced, decoder.decode(b"".join(map(tok.token_bytes, forced))),
                                         logprobs=[0.0] * len(forced),
                                         top_logprobs=[[(t, 0.0)] for t in forced] if top_k else [])
                if constraint.done:
                    yield GenerationStep([], decoder.decode(b"", final=True), "stop")
                    return
                if limits.max_field_tokens and in_value >= limits.max_field_tokens:
                    yield GenerationStep([], decoder.decode(b"", final=True), "length")
                    return
            if produced >= max_tokens:
                yield GenerationStep([], decoder.decode(b"", final=True), "length")
                return
            single = len(pending) == 1 and tuner is not None
            threads = 0
            if tuner is not None:
                threads = tuner.choose() if single else tuner.prefill_threads()
            step_started = time.perf_counter()
            try:
                session.feed(pending, _PromptWatch(self, cancel, limits, timeout=limits.timeout, report=first)
                             if len(pending) > 1 else None)
            except _Cancelled:
                yield GenerationStep([], decoder.decode(b"", final=True), "stop")
                return
            if first:
                self._record_prefill(len(pending), 0, time.perf_counter() - step_started)
                first = False
            if constraint is not None:
                rows = constraint.allowed()
                if rows.size == 0:  # cannot happen with a valid grammar; stop rather than emit junk
                    yield GenerationStep([], decoder.decode(b"", final=True), "stop")
                    return
                # Scoring only the allowed rows is much cheaper than the full 49k-token head when few remain
                # (the gathered rows are a temporary copy, hence the cap). Log-probabilities are normalised
                # over the same allowed rows, so this path never needs the full head either.
                logits = session.next_logits(rows if rows.size <= _PARTIAL_LOGITS_MAX_ROWS else None)
                if logits.shape[0] != rows.size:
                    logits = logits[rows]
                index = choose(logits, temperature=temperature, top_p=top_p, rng=rng)
                token = int(rows[index])
            else:
                rows = None
                logits = session.next_logits()
                index = token = choose(logits, temperature=temperature, top_p=top_p, rng=rng)
            if single:
                tuner.record(threads, time.perf_counter() - step_started)  # type: ignore[union-attr]
            if token in stop_ids:
                yield GenerationStep([], decoder.decode(b"", final=True), "stop")
                return
            if constraint is not None:
                constraint.consume([token])
            produced += 1
            in_value += 1
            pending = [token]
            norm = log_normaliser(logits)
            top: list[list[tuple[int, float]]] = []
            if top_k:
                best = top_alternatives(logits, norm, top_k)
                top = [[(int(rows[i]), lp) for i, lp in best] if rows is not None else best]
            yield GenerationStep([token], decoder.decode(tok.token_bytes(token)),
                                 logprobs=[float(logits[index]) - norm], top_logprobs=top)

    @property
    def is_warm(self) -> bool:
        """Whether ``warm_up`` has run (successfully) in this process."""
        return self._warm

    def warm_up(self) -> None:
        """Run a short prompt and a few decoding steps now, so the first real answer does not pay for it:
        BLAS threads start, the thread tuner measures both choices, the prompt-pass speed is measured (for
        ``predict_prompt_seconds``) and llguidance builds its first matcher."""
        if self._warm:
            return
        # another model's tokenizer may split the text differently, and its context may be small: keep to half
        prompt = self.tokenizer.encode(_WARM_PROMPT)[-max(2, self.context_length // 2):]
        try:
            for _ in self.generate(prompt, max_tokens=_WARM_DECODE_STEPS):
                pass
            if self._ll_tokenizer is not None or importlib.util.find_spec("llguidance") is not None:
                schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
                grammar = self.grammar(json.dumps(schema, sort_keys=True), schema)
                for _ in self.generate(prompt[-8:], max_tokens=8, grammar=grammar):
                    pass
        except Exception:  # noqa: BLE001 - warming is an optimisation: the first real request reports problems
            return
        self._warm = True


@dataclass(frozen=True, slots=True)
class _Limits:
    deadline: float | None  # time.monotonic() value
    timeout: float | None
    on_prompt: Callable[[int, int], None] | None
    max_field_tokens: int | None


class _Cancelled(Exception):
    """The caller cancelled during a prompt pass (internal: becomes a ``stop`` step)."""


class _DeadlinePassed(Exception):
    """The timeout passed (internal: becomes ``KaizenTimeoutError`` carrying the text so far)."""

    def __init__(self, *, in_prompt: bool) -> None:
        super().__init__("deadline passed")
        self.in_prompt = in_prompt


class _PromptWatch:
    """Called by a backend after each block of a multi-token pass: progress, cancel and the deadline. Without a
    measured speed yet, the first blocks give one, and a pass that cannot finish in time stops there."""

    def __init__(self, loaded: LoadedModel, cancel: threading.Event | None, limits: _Limits, *,
                 timeout: float | None, report: bool) -> None:
        self.loaded, self.cancel, self.limits, self.timeout = loaded, cancel, limits, timeout
        self.on_prompt = limits.on_prompt if report else None
        self.started = time.perf_counter()
        self.checked = loaded.prefill_rate is not None

    def __call__(self, done: int, total: int) -> None:
        if self.on_prompt is not None:
            self.on_prompt(done, total)
        if done >= total:  # the last block is done anyway: nothing left to stop
            return
        if self.cancel is not None and self.cancel.is_set():
            raise _Cancelled()
        if not self.checked and self.timeout and done >= _MIN_MEASURED_PROMPT:
            self.checked = True
            cfg = self.loaded.config
            elapsed = time.perf_counter() - self.started
            rate = prompt_work(cfg, done) / max(1e-6, elapsed)
            left = (prompt_work(cfg, total) - prompt_work(cfg, done)) / rate
            if elapsed + left > self.timeout:
                self.loaded.prefill_rate = rate
                self.loaded._check_prompt_time(total, self.timeout, predicted=elapsed + left)
        if self.limits.deadline is not None and time.monotonic() > self.limits.deadline:
            raise _DeadlinePassed(in_prompt=True)


def prompt_work(cfg: Any, n_tokens: int, start: int = 0) -> float:
    """Work of a prompt pass in units of one token's weight products: each token multiplies every weight
    once, and attends to every earlier position (``ATTENTION_COST`` of a weight product per position)."""
    per_position = _attention_per_position(cfg)
    return n_tokens * (1.0 + per_position * (start + n_tokens / 2.0))


def _attention_per_position(cfg: Any) -> float:
    if cfg is None:
        return 0.0
    weights = cfg.n_layers * cfg.dim * (2 * cfg.n_heads * cfg.head_dim + 2 * cfg.n_kv_heads * cfg.head_dim
                                        + 3 * cfg.ffn_dim)
    attention = cfg.n_layers * cfg.n_heads * cfg.head_dim * 2  # q.k and p.v per position
    return ATTENTION_COST * attention / weights


def _tokens_within(cfg: Any, seconds: float, rate: float) -> int:
    """The longest prompt whose pass fits in ``seconds`` at ``rate`` work units per second."""
    budget, a = seconds * rate, _attention_per_position(cfg) / 2.0
    if a <= 0:
        return int(budget)
    return int((-1.0 + (1.0 + 4.0 * a * budget) ** 0.5) / (2.0 * a))  # n + a n^2 = budget


#: an attention multiply-add per position costs about this many weight multiply-adds (the softmax passes
#: over the scores come on top of the two products); measured on the numpy engine
ATTENTION_COST = 1.6
#: a prompt is refused up front only when the kept speed predicts it would outlast the timeout by this factor
#: (the speed was measured earlier: the machine may have been busier then); the deadline stops the rest
PREDICTION_MARGIN = 1.5
#: prompt passes shorter than this are not timed (fixed costs dominate them)
_MIN_MEASURED_PROMPT = 96
_RATE_ALPHA = 0.5
_WARM_PROMPT = ("<|im_start|>system\nAnswer with a short factual answer.<|im_end|>\n<|im_start|>user\n"
                "Read this note and answer the question after it.\n\nThe town library opens at nine in the "
                "morning and closes at six in the evening, except on Sundays, when it stays closed. Members "
                "may borrow up to five books for three weeks; a renewal adds two more weeks unless someone "
                "else has reserved the book. The reading room on the first floor has twenty desks, free "
                "wireless access and a printer that takes coins. Children under twelve need a parent to "
                "sign their membership form.\n\nQuestion: on which day is the library closed?<|im_end|>\n"
                "<|im_start|>assistant\n")
_WARM_DECODE_STEPS = 6


_TUNER: BlasThreadTuner | None = None


def blas_tuner() -> BlasThreadTuner:
    """The process-wide BLAS thread tuner (created on first use)."""
    global _TUNER
    with _CACHE_LOCK:
        if _TUNER is None:
            _TUNER = BlasThreadTuner(others_busy=CpuWatch())
        return _TUNER


_CACHE: dict[str, LoadedModel] = {}
_CACHE_LOCK = threading.Lock()
_PATH_LOCKS: dict[str, threading.Lock] = {}


def _select_backend() -> str:
    choice = os.environ.get("KAIZEN_LOCAL_BACKEND", "auto").strip().lower() or "auto"
    if choice not in ("auto", "numpy", "llama_cpp"):
        from kaizen_lab.errors import ConfigError

        raise ConfigError(f"KAIZEN_LOCAL_BACKEND must be 'auto', 'numpy' or 'llama_cpp', got {choice!r}",
                          path="KAIZEN_LOCAL_BACKEND", value=choice, allowed="auto, numpy, llama_cpp")
    if choice == "numpy":
        return "numpy"
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is not None:
        return "llama_cpp"
    if choice == "llama_cpp":
        from kaizen_lab.errors import UserError

        raise UserError("KAIZEN_LOCAL_BACKEND=llama_cpp but llama_cpp is not installed: "
                        "pip install llama-cpp-python, or unset KAIZEN_LOCAL_BACKEND")
    return "numpy"


def _release_freed_memory(*, collect: bool = True) -> None:
    """Hand memory freed by temporaries back to the OS (glibc keeps it otherwise, inflating the RSS)."""
    import ctypes
    import gc

    if collect:
        gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _load(path: str, backend: str, progress: Progress | None) -> LoadedModel:
    from kaizen_lab.models.local._gguf import read_gguf
    from kaizen_lab.models.local._llama import LlamaConfig, LlamaEngine, check_memory

    started = time.perf_counter()
    if progress is not None:
        progress(0.0, "reading the model header")
    gguf = read_gguf(path)
    # the architecture first: a model of another family is the clearest thing to report
    cfg = LlamaConfig.from_metadata(gguf.metadata, len(gguf.metadata.get("tokenizer.ggml.tokens") or ()), path=path)
    cfg.check_tensors(gguf)
    if backend != "llama_cpp":
        check_memory(gguf)  # llama.cpp keeps the weights quantized; the numpy engine widens them to float32
    tokenizer = build_tokenizer(gguf.metadata)
    # The vocabulary lists now live inside the tokenizer; keep only the small metadata values.
    gguf.metadata = {k: v for k, v in gguf.metadata.items() if not (isinstance(v, list) and len(v) > 1024)}
    ll_tokenizer = None
    if importlib.util.find_spec("llguidance") is not None:
        # Built now rather than on the first structured request: its ~50 MB of build temporaries then come
        # and go before the weights arrive instead of stacking on top of them.
        import llguidance

        # slices=[]: the slicer's precomputed tables cost ~16 MB to save ~0.1 ms per token, and a token
        # costs ~30 ms here anyway.
        ll_tokenizer = llguidance.LLTokenizer(tokenizer.json, eos_token=tokenizer.eos_id, slices=[])
    _release_freed_memory()  # before the weights arrive, so the tokenizers' temporaries don't add to the peak
    if backend == "llama_cpp":
        from kaizen_lab.models.local._llamacpp import load_llama_cpp

        engine = load_llama_cpp(path, cfg.context_length)
    else:
        engine = LlamaEngine(gguf, cfg, progress=(lambda f, msg: progress(0.05 + 0.95 * f, msg))
                             if progress is not None else None)
    _release_freed_memory()
    template = gguf.metadata.get("tokenizer.chat_template")
    loaded = LoadedModel(path=path, metadata=gguf.metadata, tokenizer=tokenizer, backend=backend,
                         chat_template=str(template) if template else None,
                         context_length=cfg.context_length, load_seconds=0.0, _engine=engine, config=cfg,
                         _ll_tokenizer=ll_tokenizer)
    loaded.load_seconds = time.perf_counter() - started
    if progress is not None:
        progress(1.0, f"loaded in {loaded.load_seconds:.1f} s")
    return loaded


def get_loaded(path: str, *, progress: Progress | None = None, backend: str | None = None) -> LoadedModel:
    """The model at ``path``, loaded once per process (thread-safe; concurrent callers wait for one load)."""
    key = os.path.realpath(path)
    backend = backend or _select_backend()
    cache_key = f"{backend}:{key}"
    with _CACHE_LOCK:
        if cache_key in _CACHE:
            return _CACHE[cache_key]
        lock = _PATH_LOCKS.setdefault(cache_key, threading.Lock())
    with lock:
        with _CACHE_LOCK:
            if cache_key in _CACHE:
                return _CACHE[cache_key]
        loaded = _load(key, backend, progress)
        with _CACHE_LOCK:
            _CACHE[cache_key] = loaded
        return loaded


def loaded_models() -> dict[str, LoadedModel]:
    """The models loaded in this process so far, by ``backend:path``."""
    with _CACHE_LOCK:
        return dict(_CACHE)
