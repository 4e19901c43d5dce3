"""The step loop: validate inputs → format → model (→ tools → model)* → parse → validate outputs.

These step functions are the one implementation of an agent run. ``Agent.execute`` calls them directly (the
fast path); the Kailash nodes in ``kaizen_lab.runtime.nodes`` call the very same functions, so a compiled
workflow, the step debugger and an exported workflow run identical code and emit the same events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kaizen_lab import events as ev
from kaizen_lab.errors import (
    AgentRunError,
    KaizenError,
    KaizenTimeoutError,
    ModelError,
    OutputParseError,
    ToolError,
    UserError,
    redacted_cause,
)
from kaizen_lab.messages import ImagePart, Message, ToolCall
from kaizen_lab.models._retry import observe_retries
from kaizen_lab.models.base import ModelResponse, ModelSettings
from kaizen_lab.signatures.adapters import retry_prompt

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult
    from kaizen_lab.signatures.adapters import Adapter
    from kaizen_lab.signatures.signature import Signature

__all__ = ["RunState", "model_phase", "run_agent", "step_format", "step_validate_inputs",
           "step_validate_outputs"]

_perf = time.perf_counter


class RunState:
    """What one run has gathered so far: events, timings, usage. Kept on errors as ``err.events``."""

    __slots__ = ("run_id", "agent_id", "model", "events", "t0", "step_ms", "input_tokens", "output_tokens",
                 "cost", "retries", "model_calls", "tool_calls", "cache_hits", "partial", "on_event",
                 "answer_logprob")

    def __init__(self, run_id: str, agent_id: str, model: str = "") -> None:
        self.run_id = run_id
        self.agent_id = agent_id
        self.model = model
        self.events: list[ev.Event] = []
        self.t0 = _perf()
        self.step_ms: dict[str, float] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost: float | None = None
        self.retries = 0
        self.model_calls = 0
        self.tool_calls = 0
        self.cache_hits = 0
        self.partial: dict[str, Any] = {}
        self.on_event: Any = None
        self.answer_logprob: float | None = None

    def record(self, event: ev.Event) -> None:
        self.events.append(event)
        ev.record(event)
        if self.on_event is not None:
            self.on_event(event)

    def finish_step(self, step: Any, t0: float, *, status: Any = "ok", inputs: Any = None, outputs: Any = None,
                    error: str | None = None, name: str = "") -> None:
        ms = (_perf() - t0) * 1000
        self.step_ms[step] = self.step_ms.get(step, 0.0) + ms
        self.record(ev.StepFinished(run_id=self.run_id, step=step, name=name, status=status, duration_ms=ms,
                                    inputs=inputs, outputs=outputs, error=error))

    def fail(self, err: KaizenError) -> KaizenError:
        """Attach the events and partial results gathered so far to ``err``."""
        err.events = list(self.events)
        if err.partial is None:
            err.partial = dict(self.partial)
        return err


def step_validate_inputs(state: RunState, signature: Signature, inputs: Mapping[str, Any]) -> dict[str, Any]:
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="validate_inputs"))
    try:
        values = signature.validate_inputs(inputs)
    except KaizenError as exc:
        state.finish_step("validate_inputs", t0, status="error", inputs=dict(inputs), error=str(exc))
        raise
    state.finish_step("validate_inputs", t0, inputs=dict(inputs), outputs=values)
    state.partial["inputs"] = values
    return values


def step_format(state: RunState, signature: Signature, adapter: Adapter, inputs: Mapping[str, Any],
                history: Sequence[Message] = ()) -> list[Message]:
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="format"))
    messages = adapter.format(signature, inputs, signature.demos, history)
    state.finish_step("format", t0, outputs={"messages": len(messages)})
    return messages


def step_parse(state: RunState, signature: Signature, adapter: Adapter, text: str) -> dict[str, Any]:
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="parse"))
    try:
        data = adapter.parse(signature, text)
    except OutputParseError as exc:
        state.finish_step("parse", t0, status="error", inputs={"text": text}, error=exc.reason)
        raise
    state.finish_step("parse", t0, inputs={"text": text}, outputs=data)
    return data


#: answers longer than this are parsed on a worker thread when the run has a timeout, so the timeout
#: can end the run while a (custom) adapter is still busy; the built-in adapters are linear anyway
_PARSE_IN_THREAD = 20_000


async def step_parse_async(state: RunState, agent: Agent, text: str) -> dict[str, Any]:
    """``step_parse``, on a worker thread for a long answer under a timeout (events stay on the loop)."""
    signature, adapter = agent.signature.generated(), agent.adapter
    if not agent.timeout or len(text) <= _PARSE_IN_THREAD:
        return step_parse(state, signature, adapter, text)
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="parse"))
    try:
        data = await asyncio.to_thread(adapter.parse, signature, text)
    except OutputParseError as exc:
        state.finish_step("parse", t0, status="error", inputs={"text": text}, error=exc.reason)
        raise
    state.finish_step("parse", t0, inputs={"text": text}, outputs=data)
    return data


def step_validate_outputs(state: RunState, signature: Signature, outputs: Mapping[str, Any]) -> dict[str, Any]:
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="validate_outputs"))
    try:
        values = signature.validate_outputs(outputs)
    except OutputParseError as exc:
        state.finish_step("validate_outputs", t0, status="error", inputs=dict(outputs), error=exc.reason)
        raise
    state.finish_step("validate_outputs", t0, inputs=dict(outputs), outputs=values)
    state.partial["outputs"] = values
    return values


async def _request(state: RunState, agent: Agent, messages: list[Message], attempt: int) -> ModelResponse:
    model = agent.model
    t0 = _perf()
    state.record(ev.StepStarted(run_id=state.run_id, step="model", name=state.model))
    tools = agent.tools.specs() or None

    def on_retry(retry_attempt: int, error: Any, delay: float) -> None:
        # a provider-level retry (429/5xx/connection) becomes part of the run's record
        state.record(ev.Retried(run_id=state.run_id, attempt=retry_attempt + 1,
                                reason=f"{state.model}: {error}; retrying in {delay:.2f}s"))

    try:
        # ev.running: a model that reports progress while it works (the embedded model's prompt pass) records
        # it on this run, in its events like the loop's own
        with observe_retries(on_retry), ev.running(state.run_id, state.record):
            coro = model.request(messages, settings=_settings(agent), tools=tools,
                                 output_schema=agent.signature.generated().output_schema())
            if agent.model_timeout:
                response = await asyncio.wait_for(coro, agent.model_timeout)
            else:
                response = await coro
    except TimeoutError:
        err: KaizenError = KaizenTimeoutError(f"model {state.model} did not answer within {agent.model_timeout}s; "
                                              "raise model_timeout= or use a faster model",
                                              seconds=agent.model_timeout)
        _model_failed(state, t0, attempt, str(err))
        raise state.fail(err) from None
    except KaizenError as exc:
        _model_failed(state, t0, attempt, str(exc))
        raise state.fail(exc) from None
    except Exception as exc:  # noqa: BLE001 - a provider's own error, wrapped with its type and message
        err = ModelError(f"{type(exc).__name__} from model {state.model}: {exc}", provider=model.provider)
        _model_failed(state, t0, attempt, str(err))
        raise state.fail(err) from redacted_cause(exc)
    ms = (_perf() - t0) * 1000
    usage = response.usage
    state.model_calls += 1
    state.input_tokens += usage.input_tokens
    state.output_tokens += usage.output_tokens
    if response.cost is not None:
        state.cost = (state.cost or 0.0) + response.cost
    if response.cache_hit:
        state.cache_hits += 1
    state.step_ms["model"] = state.step_ms.get("model", 0.0) + ms
    state.record(ev.ModelCalled(run_id=state.run_id, model=state.model, attempt=attempt, duration_ms=ms,
                                input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                cost=response.cost, cache_hit=response.cache_hit,
                                tool_calls=tuple(c.name for c in response.tool_calls),
                                finish=response.finish_reason, text_preview=response.text[:200]))
    state.record(ev.StepFinished(run_id=state.run_id, step="model", name=state.model, duration_ms=ms,
                                 outputs={"text": response.text,
                                          "tool_calls": [c.name for c in response.tool_calls]}))
    return response


_CONFIDENCE_TOP_LOGPROBS = 10


def _settings(agent: Agent) -> ModelSettings | None:
    """The agent's settings, asking for token log-probabilities when a ``Confidence`` output needs them."""
    if not agent.signature.confidence_outputs:
        return agent.settings
    # alternatives let the answer's probability count every token split of the same text
    top = agent.settings.top_logprobs if agent.settings is not None else None
    wanted = ModelSettings(logprobs=True, top_logprobs=top or _CONFIDENCE_TOP_LOGPROBS)
    return wanted if agent.settings is None else agent.settings.merged(wanted)


def _model_failed(state: RunState, t0: float, attempt: int, error: str) -> None:
    ms = (_perf() - t0) * 1000
    state.record(ev.ModelCalled(run_id=state.run_id, model=state.model, attempt=attempt, duration_ms=ms,
                                error=error))
    state.finish_step("model", t0, status="error", error=error, name=state.model)


async def _run_tool(state: RunState, agent: Agent, call: ToolCall) -> Message:
    """Run one tool call; its answer (text, and images a tool returned) as the ``tool`` message."""
    from kaizen_lab.agents.tools import tool_output
    from kaizen_lab.redact import redact_text

    t0 = _perf()
    tool = agent.tools.get(call.name)
    error = None
    content: tuple[dict[str, Any], ...] = ()
    images: tuple[ImagePart, ...] = ()
    source = tool.source if tool else "unknown"
    if tool is None:
        text = error = f"error: unknown tool {call.name!r}; available tools: {agent.tools.names()}"
    else:
        try:
            with ev.running(state.run_id):
                result = await tool.call(dict(call.arguments))
            text, images, content = tool_output(result)
        except Exception as exc:  # noqa: BLE001 - fed back to the model, recorded in the event
            # the model (a provider outside) and the trace see the error, never a secret inside it
            text = error = redact_text(f"error: {type(exc).__name__}: {exc}")
    ms = (_perf() - t0) * 1000
    state.tool_calls += 1
    state.step_ms["tool"] = state.step_ms.get("tool", 0.0) + ms
    message = Message("tool", text, tool_call_id=call.id, name=call.name, images=images)
    state.record(ev.ToolCalled(run_id=state.run_id, tool=call.name, arguments=dict(call.arguments),
                               result_preview=message.text_with_placeholders()[:200], error=error, duration_ms=ms,
                               source=source, content=content))
    # a model that takes no images (or says nothing) gets a line naming each one: never silently lost
    return message if getattr(agent.model, "supports_images", False) else message.without_images()


async def call_model(state: RunState, agent: Agent, messages: list[Message],
                     attempt: int) -> tuple[ModelResponse, list[Message]]:
    """One model turn, running tool calls until the model answers without any (bounded by max_tool_steps)."""
    steps = 0
    while True:
        response = await _request(state, agent, messages, attempt)
        if not response.tool_calls:
            return response, messages
        steps += 1
        if steps > agent.max_tool_steps:
            raise state.fail(ToolError(
                f"the tool-calling loop hit its limit of {agent.max_tool_steps} steps (last tools: "
                f"{[c.name for c in response.tool_calls]}); raise max_tool_steps= or check the tools' results",
                tool=response.tool_calls[0].name))
        messages = [*messages, Message("assistant", response.text, tool_calls=response.tool_calls)]
        for call in response.tool_calls:
            messages.append(await _run_tool(state, agent, call))


async def model_phase(state: RunState, agent: Agent, inputs: Mapping[str, Any],
                      history: Sequence[Message] = ()) -> tuple[dict[str, Any], str]:
    """Format, call the model (with tools), parse; on a parse error, retry with the error fed back.

    The model fills the signature's generated outputs (``Confidence`` outputs excluded); those are then
    computed from the answer's token log-probabilities, which also give ``state.answer_logprob``.
    """
    signature = agent.signature.generated()
    messages = step_format(state, signature, agent.adapter, inputs, history)
    attempt = 1
    while True:
        response, messages = await call_model(state, agent, messages, attempt)
        try:
            parsed = await step_parse_async(state, agent, response.text)
            return _with_confidence(state, agent, response, parsed), response.text
        except OutputParseError as exc:
            state.partial["raw_output"] = response.text
            if attempt > agent.max_retries:
                raise state.fail(exc) from None
            state.retries += 1
            state.record(ev.Retried(run_id=state.run_id, attempt=attempt + 1, reason=exc.reason))
            messages = [*messages, Message("assistant", response.text),
                        Message("user", retry_prompt(agent.adapter, signature, exc.reason))]
            attempt += 1


def _with_confidence(state: RunState, agent: Agent, response: ModelResponse,
                     parsed: dict[str, Any]) -> dict[str, Any]:
    from kaizen_lab.agents._confidence import answer_score

    marked = agent.signature.confidence_outputs
    answer = next(iter(marked.values()), None) or agent.signature.output_names[0]
    score = answer_score(response.logprobs, response.text, answer, parsed.get(answer))
    state.answer_logprob = None if score is None else score.logprob
    if not marked:
        return parsed
    if score is None:
        from kaizen_lab.errors import ConfidenceUnavailableError

        field = next(iter(marked))
        why = ("reported no token log-probabilities" if not response.logprobs
               else f"reported tokens that do not spell the {answer!r} value")
        state.partial["raw_output"] = response.text
        raise state.fail(ConfidenceUnavailableError(
            f"the Confidence output {field!r} is computed from the model's token probabilities, but model "
            f"{state.model} {why}. Use model='local' or an OpenAI-compatible model that returns logprobs, or "
            f"declare '{field}: float' to have the model write a number itself.", model=state.model, field=field))
    return {**parsed, **dict.fromkeys(marked, score.confidence)}


async def run_agent(agent: Agent, inputs: Mapping[str, Any], *, session: str | None = None,
                    run_id: str | None = None, parent_run_id: str | None = None,
                    on_event: Any = None) -> ExecutionResult:
    """Run every step of ``agent`` on ``inputs`` and return the typed result.

    ``session`` defaults to the agent's ``default_session``; inputs given under one of the agent's
    ``input_aliases`` are renamed first.
    """
    from kaizen_lab.agents.result import ExecutionResult, RunMetadata

    if session is None:
        session = getattr(agent, "default_session", None)
    inputs = _unalias(agent, inputs)
    state = RunState(run_id or ev.new_id(), agent.agent_id, agent.model_label)
    state.on_event = on_event
    state.record(ev.RunStarted(run_id=state.run_id, agent_id=agent.agent_id, inputs=dict(inputs),
                               model=state.model, parent_run_id=parent_run_id))
    try:
        coro = _run_steps(state, agent, inputs, session)
        outputs = await (asyncio.wait_for(coro, agent.timeout) if agent.timeout else coro)
    except TimeoutError:
        err: KaizenError = state.fail(KaizenTimeoutError(
            f"agent {agent.agent_id!r} did not finish within {agent.timeout}s; raise timeout= or use a faster model",
            seconds=agent.timeout))
        _finished(state, "error", err)
        err.events = list(state.events)
        raise err from None
    except asyncio.CancelledError:
        _finished(state, "cancelled", None)
        raise
    except KaizenError as exc:
        _finished(state, "error", exc)
        state.fail(exc)
        exc.events = list(state.events)
        raise
    except Exception as exc:
        err = AgentRunError(f"{type(exc).__name__} in agent {agent.agent_id!r}: {exc}")
        _finished(state, "error", err)
        raise state.fail(err) from redacted_cause(exc)
    duration = (_perf() - state.t0) * 1000
    state.record(ev.RunFinished(run_id=state.run_id, agent_id=agent.agent_id, status="ok", outputs=outputs,
                                duration_ms=duration))
    meta = RunMetadata(state.run_id, agent.agent_id, state.model, duration, state.step_ms, state.input_tokens,
                       state.output_tokens, state.cost, state.retries, state.model_calls, state.tool_calls,
                       state.cache_hits, session, state.answer_logprob)
    return ExecutionResult(outputs, meta, state.events, state.partial.get("inputs"))


async def _run_steps(state: RunState, agent: Agent, inputs: Mapping[str, Any], session: str | None) -> dict[str, Any]:
    values = step_validate_inputs(state, agent.signature, inputs)
    history = agent.memory.history(agent.agent_id, session) if session and agent.memory else ()
    parsed, text = await model_phase(state, agent, values, history)
    outputs = step_validate_outputs(state, agent.signature, parsed)
    if session and agent.memory:
        agent.memory.record(agent.agent_id, session, _user_turn(agent, values), text)
    return outputs


def _unalias(agent: Agent, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    aliases = getattr(agent, "input_aliases", None)
    if not aliases or not any(alias in inputs for alias in aliases):
        return inputs
    values = dict(inputs)
    for alias, name in aliases.items():
        if alias in values:
            if name in values:
                raise UserError(f"give {name!r} or {alias!r}, not both: on agent {agent.agent_id!r} {alias!r} is "
                                f"another name for the input {name!r}")
            values[name] = values.pop(alias)
    return values


def _user_turn(agent: Agent, values: Mapping[str, Any]) -> str:
    """The user's turn as remembered in a session (adapters without ``user_prompt`` use their last message)."""
    user_prompt = getattr(agent.adapter, "user_prompt", None)
    if user_prompt is not None:
        return str(user_prompt(agent.signature, values))
    return agent.adapter.format(agent.signature, values)[-1].content


def _finished(state: RunState, status: Any, err: KaizenError | None) -> None:
    state.record(ev.RunFinished(run_id=state.run_id, agent_id=state.agent_id, status=status,
                                duration_ms=(_perf() - state.t0) * 1000,
                                outputs=state.partial.get("outputs") or {},
                                error=str(err) if err else None, error_type=type(err).__name__ if err else None))
