"""``Agent``: one signature, one model, optional tools and memory; one way to run it, typed results.

``execute`` (sync, also inside Jupyter's running loop), ``aexecute``, ``batch``/``abatch``, ``stream``. Methods
the roadmap puts on ``Agent`` that belong to outer layers (workflows, MCP, persistence, notebook) are one-line
lazy doors inherited from ``kaizen_lab._doors.AgentDoors``; ``docs/roadmap-api.md`` maps every roadmap name.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from kaizen_lab import events as ev
from kaizen_lab._aio import background_loop, run_sync
from kaizen_lab._doors import AgentDoors
from kaizen_lab.agents._loop import run_agent
from kaizen_lab.agents.memory import StateManager
from kaizen_lab.agents.result import ExecutionResult
from kaizen_lab.agents.tools import ToolSet
from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.models.base import ModelBase, ModelSettings
from kaizen_lab.signatures.adapters import get_adapter
from kaizen_lab.signatures.signature import Signature

__all__ = ["Agent"]

DEFAULT_SIGNATURE = "question: str -> answer: str"
#: other names an agent created without a signature accepts for its input (the roadmap writes ``task=``)
DEFAULT_INPUT_ALIASES = {"task": "question"}


class Agent(AgentDoors):
    """An LLM agent bound to a signature.

    Args:
        agent_id: a name, unique within a notebook or service.
        signature: a ``Signature``, its text (``"question -> answer"``), a signature class or a function;
            ``None`` gives ``question: str -> answer: str``, whose input may also be passed as ``task=``.
        model: a model object or string (``"test"``, ``"local"``, ``"openai:gpt-4o-mini"`` ...); default from config.
        instructions: replaces the signature's instructions.
        tools: functions (or ``Tool``s) the model may call.
        memory: ``True`` for in-memory sessions, or a ``StateManager``.
        max_retries: how often to re-ask the model after an unparseable answer.
        timeout: seconds for the whole run; ``model_timeout`` for each model call.
        cache: ``True`` (in-memory LRU) or a cache object from ``kaizen_lab.models.cache``.
    """

    def __init__(self, agent_id: str, signature: Signature | str | type | None = None, *,
                 model: Any = None, instructions: str | None = None, tools: Iterable[Any] = (),
                 memory: bool | StateManager | None = None, max_retries: int = 2, timeout: float | None = None,
                 model_timeout: float | None = None, max_tool_steps: int = 8, adapter: Any = "json",
                 settings: ModelSettings | Mapping[str, Any] | None = None, cache: Any = None,
                 config: Any = None, namespace: Mapping[str, Any] | None = None, **extra: Any) -> None:
        if not isinstance(agent_id, str) or not agent_id:
            raise UserError("agent_id must be a non-empty string, e.g. Agent('qa', 'question -> answer')")
        if extra:
            known = ["model", "instructions", "tools", "memory", "max_retries", "timeout", "model_timeout",
                     "max_tool_steps", "adapter", "settings", "cache", "config", "namespace"]
            name = sorted(extra)[0]
            raise UserError(f"Agent got an unknown option {name!r}{did_you_mean(name, known)}; "
                            f"options are {known}")
        self.agent_id = agent_id
        self.config = config
        from kaizen_lab.agents._options import check_plain_options

        check_plain_options(namespace=namespace, instructions=instructions, tools=tools)
        sig = Signature.coerce(signature if signature is not None else DEFAULT_SIGNATURE, namespace)
        #: other names accepted for inputs (``{alias: input}``), applied before validation
        self.input_aliases: dict[str, str] = dict(DEFAULT_INPUT_ALIASES) if signature is None else {}
        #: the memory session of runs that name none (``enable_dataflow_persistence`` sets ``"default"``)
        self.default_session: str | None = None
        self.signature = sig.with_instructions(instructions) if instructions is not None else sig
        self._model_spec = model
        self._model: ModelBase | None = None
        self._cache_spec = cache
        self.tools = ToolSet(tools or ())
        self.memory: StateManager | None = (StateManager() if memory is True else memory or None)
        from kaizen_lab.agents._options import check_count, check_seconds, check_settings

        for name, value in (("memory", memory), ("cache", cache)):
            if isinstance(value, str | int | float | bytes) and not isinstance(value, bool):
                raise UserError(f"{name} must be True/False or a {name} object, got {value!r}")
        self.max_retries = check_count("max_retries", max_retries)
        self.timeout = check_seconds("timeout", timeout)
        self.model_timeout = check_seconds("model_timeout", model_timeout)
        self.max_tool_steps = check_count("max_tool_steps", max_tool_steps)
        self.adapter = get_adapter(adapter)
        self.settings: ModelSettings | None = check_settings(settings)
        #: default ``concurrency`` of ``batch``/``abatch`` (tuned by the resource optimizer)
        self.batch_concurrency = 8

    # -- model --------------------------------------------------------------------------------------------
    @property
    def model(self) -> ModelBase:
        """The resolved model (resolved on first use, so creating an agent stays cheap)."""
        if self._model is None:
            from kaizen_lab.models.registry import resolve_model

            model = resolve_model(self._model_spec, config=self.config)
            if self._cache_spec is not None and self._cache_spec is not False:
                from kaizen_lab.models.cache import CachedModel, MemoryCache

                cache = MemoryCache() if self._cache_spec is True else self._cache_spec
                model = CachedModel(model, cache)
            self._model = model
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model_spec = value
        self._model = None

    @property
    def model_label(self) -> str:
        """The model as ``provider:name`` (``"test:test"``, ``"openai:gpt-4o-mini"``): how events, results and
        metrics name it. Reading it resolves the model, as a run does."""
        model = self.model
        return getattr(model, "label", None) or f"{model.provider}:{model.name}"

    @property
    def model_shown(self) -> str:
        """The model as reprs, tables and the sidebar show it, without resolving it (which may import a
        provider's SDK or need its key): ``model_label`` once resolved, else the model as given (``"default"``
        when none was)."""
        if self._model is not None:
            return self.model_label
        spec = self._model_spec
        if spec is None:
            return "default"
        return spec if isinstance(spec, str) else str(getattr(spec, "label", None) or spec)

    @property
    def model_spec(self) -> str | None:
        """The model as a string when it was given as one (used by export)."""
        return self._model_spec if isinstance(self._model_spec, str) else None

    @contextlib.contextmanager
    def override(self, *, model: Any = None, instructions: str | None = None) -> Iterator[Agent]:
        """Temporarily swap the model and/or instructions (tests and notebooks)."""
        saved = (self._model_spec, self._model, self.signature)
        if model is not None:
            self.model = model
        if instructions is not None:
            self.signature = self.signature.with_instructions(instructions)
        try:
            yield self
        finally:
            self._model_spec, self._model, self.signature = saved

    # -- running ------------------------------------------------------------------------------------------
    def _split(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        session = None
        if "session" in inputs and "session" not in self.signature.input_names:
            session = inputs.pop("session")
        return inputs, session

    async def arun(self, inputs: Mapping[str, Any], *, session: str | None = None, run_id: str | None = None,
                   parent_run_id: str | None = None,
                   on_event: Callable[[ev.Event], None] | None = None) -> ExecutionResult:
        """Like ``aexecute`` but with inputs as a dict, and the run's ids (patterns nest runs this way).

        ``on_event`` is called with each event of the run as it happens (the same stream the tracer records),
        e.g. to show progress; the result is returned as usual.
        """
        if not isinstance(inputs, Mapping):
            first = self.signature.input_names[0] if self.signature.input_names else "question"
            raise UserError(f"run() takes the inputs as a dict, e.g. agent.run({{{first!r}: ...}}), or use "
                            f"agent.execute({first}=...); got {type(inputs).__name__}")
        return await run_agent(self, dict(inputs), session=session, run_id=run_id, parent_run_id=parent_run_id,
                               on_event=on_event)

    def run(self, inputs: Mapping[str, Any], *, session: str | None = None, run_id: str | None = None,
            parent_run_id: str | None = None,
            on_event: Callable[[ev.Event], None] | None = None) -> ExecutionResult:
        """Sync form of ``arun``."""
        return run_sync(self.arun(inputs, session=session, run_id=run_id, parent_run_id=parent_run_id,
                                  on_event=on_event))

    async def aexecute(self, **inputs: Any) -> ExecutionResult:
        """Run the agent; ``session="id"`` (when memory is on) continues a conversation."""
        values, session = self._split(inputs)
        return await run_agent(self, values, session=session)

    def execute(self, **inputs: Any) -> ExecutionResult:
        """Run the agent from synchronous code (a script or a notebook cell) and return the typed result."""
        values, session = self._split(inputs)
        return run_sync(run_agent(self, values, session=session))

    __call__ = execute

    async def abatch(self, items: Sequence[Mapping[str, Any]], *, concurrency: int | None = None,
                     progress: Callable[[int, int], None] | bool | None = None,
                     return_exceptions: bool = False) -> list[ExecutionResult | BaseException]:
        """Run many inputs with at most ``concurrency`` in flight; results keep the input order.

        ``progress``: ``fn(done, total)`` called after each item, or ``True``/``False`` to force the progress
        bar on or off (default: a bar when someone watches, see ``kaizen_lab._progress``).
        """
        from kaizen_lab._progress import progress_bar

        concurrency = concurrency or self.batch_concurrency
        if concurrency < 1:
            raise UserError(f"concurrency must be at least 1, got {concurrency}")
        semaphore = asyncio.Semaphore(concurrency)
        done = 0
        total = len(items)
        callback = progress if callable(progress) else None
        bar = progress_bar(total, f"{self.agent_id} batch", enabled=progress if isinstance(progress, bool) else
                           (False if callback else None))

        async def one(item: Mapping[str, Any]) -> ExecutionResult:
            nonlocal done
            async with semaphore:
                try:
                    return await self.aexecute(**dict(item))
                finally:
                    done += 1
                    bar.update()
                    if callback is not None:
                        callback(done, total)

        with bar:
            return list(await asyncio.gather(*(one(i) for i in items), return_exceptions=return_exceptions))

    def batch(self, items: Sequence[Mapping[str, Any]], *, concurrency: int | None = None,
              progress: Callable[[int, int], None] | bool | None = None,
              return_exceptions: bool = False) -> list[ExecutionResult | BaseException]:
        """Sync form of ``abatch``."""
        return run_sync(self.abatch(items, concurrency=concurrency, progress=progress,
                                    return_exceptions=return_exceptions))

    async def astream(self, **inputs: Any) -> AsyncIterator[ev.Event]:
        """Yield each event as the run produces it; the last is ``RunFinished``. Errors are raised after it."""
        values, session = self._split(inputs)
        events: asyncio.Queue[ev.Event] = asyncio.Queue()
        task = asyncio.ensure_future(run_agent(self, values, session=session, on_event=events.put_nowait))
        try:
            while True:
                getter = asyncio.ensure_future(events.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                    continue
                getter.cancel()
                while not events.empty():
                    yield events.get_nowait()
                task.result()
                return
        finally:
            if not task.done():
                task.cancel()

    def stream(self, **inputs: Any) -> Iterator[ev.Event]:
        """Sync form of ``astream`` (runs on the background loop; works inside Jupyter)."""
        out: queue.Queue[Any] = queue.Queue()
        done = object()

        async def pump() -> None:
            try:
                async for event in self.astream(**inputs):
                    out.put(event)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
                out.put(exc)
            out.put(done)

        asyncio.run_coroutine_threadsafe(pump(), background_loop())
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    # -- tools and memory ---------------------------------------------------------------------------------
    def add_tool(self, fn: Any, *, name: str | None = None, description: str | None = None) -> Any:
        """Offer another function to the model; returns the ``Tool``."""
        from kaizen_lab.agents.tools import tool_from_function

        return self.tools.add(tool_from_function(fn, name=name, description=description))

    def history(self, session: str) -> list[Any]:
        if self.memory is None:
            raise UserError(f"agent {self.agent_id!r} has no memory; create it with memory=True")
        return self.memory.history(self.agent_id, session)

    @property
    def id(self) -> str:
        """The roadmap's name for ``agent_id``."""
        return self.agent_id

    def to_spec(self) -> dict[str, Any]:
        """A JSON-friendly description (no live objects, no secrets) used by export and deployment."""
        return {"agent_id": self.agent_id, "signature": self.signature.to_dict(), "model": self.model_spec,
                "tools": self.tools.names(), "max_retries": self.max_retries, "timeout": self.timeout,
                "adapter": self.adapter.name, "memory": self.memory is not None}

    def __repr__(self) -> str:
        return f"Agent({self.agent_id!r}, {str(self.signature)!r}, model={self.model_shown!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        rows = "".join(f"<tr><td>{'→' if f.role == 'input' else '←'}</td><td><b>{html.escape(f.name)}</b></td>"
                       f"<td><code>{html.escape(f.type_text)}</code></td><td>{html.escape(f.description)}</td></tr>"
                       for f in (*self.signature.input_fields, *self.signature.output_fields))
        tools = ", ".join(self.tools.names()) or "none"
        body = (f"<div class='kaizen-agent'><b>Agent {html.escape(self.agent_id)}</b> · model "
                f"<code>{html.escape(self.model_shown)}</code> · tools: {html.escape(tools)}<table>{rows}</table></div>")
        return {"text/plain": repr(self), "text/html": body}

