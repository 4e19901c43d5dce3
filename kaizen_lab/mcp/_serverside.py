"""The protocol features of kaizen-lab's MCP server beyond tools: logging (``logging/setLevel`` and log
messages while an agent runs), progress for agent runs, completions (the values of ``Literal`` inputs, plus any
completer added with ``AgentMCPServer.completer``) and per-session log levels.

Each agent is also offered as a prompt of the same name (its inputs are the prompt's arguments) so that
clients can ask ``completion/complete`` for its ``Literal`` inputs with a ``ref/prompt`` reference.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizen_lab.mcp.server import AgentMCPServer

__all__ = ["LOG_ORDER", "ClientModel", "install", "literal_values", "run_with_context"]

LOG_ORDER = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def literal_values(schema: dict[str, Any], argument: str) -> list[str]:
    """The allowed values of one input (``enum``, ``const`` alternatives, or an array's item enum)."""
    prop = (schema.get("properties") or {}).get(argument) or {}
    for candidate in (prop, prop.get("items") or {}):
        if "enum" in candidate:
            return [str(v) for v in candidate["enum"]]
        alternatives = candidate.get("anyOf") or candidate.get("oneOf") or ()
        consts = [str(a["const"]) for a in alternatives if isinstance(a, dict) and "const" in a]
        if consts:
            return consts
        nested = [v for a in alternatives if isinstance(a, dict) for v in a.get("enum", ())]
        if nested:
            return [str(v) for v in nested]
    return []


def client_of(session: Any) -> Any:
    """The client connection behind a request's session: each request gets its own session object, the
    connection underneath is what stays one client (for per-client state: log level, subscriptions)."""
    return getattr(session, "_connection", session)


class _Levels:
    """The log level each client session asked for (``logging/setLevel``); ``info`` until it asks."""

    def __init__(self) -> None:
        self._by_session: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def set(self, session: Any, level: str) -> None:
        self._by_session[client_of(session)] = level

    def allows(self, session: Any, level: str) -> bool:
        wanted = self._by_session.get(client_of(session), "info")
        return LOG_ORDER.index(level) >= LOG_ORDER.index(wanted)


def install(sdk_server: Any, kaizen: AgentMCPServer) -> None:
    """Register logging/setLevel, completion/complete and the agents' prompts on a freshly built server."""
    import warnings

    from mcp import types

    levels = _Levels()
    sdk_server.kaizen_levels = levels
    low = sdk_server._lowlevel_server

    async def set_level(ctx: Any, params: Any) -> Any:
        levels.set(ctx.session, str(params.level))
        return types.EmptyResult()

    async def complete(ctx: Any, params: Any) -> Any:
        ref, argument = params.ref, params.argument
        values: list[str] = []
        for fn in kaizen.completers:
            found = fn(ref, argument.name, argument.value, params.context)
            if hasattr(found, "__await__"):
                found = await found
            if found:
                values = [str(v) for v in found]
                break
        else:
            agent = kaizen.agents.get(getattr(ref, "name", "") or "")
            if agent is not None:
                values = literal_values(agent.signature.input_schema(), argument.name)
        matching = [v for v in values if v.startswith(argument.value or "")][:100]
        return types.CompleteResult(completion=types.Completion(values=matching, total=len(matching),
                                                                has_more=False))

    watchers: ResourceWatchers = sdk_server.kaizen_watchers

    async def subscribe(ctx: Any, params: Any) -> Any:
        watchers.add(ctx.session, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: Any) -> Any:
        watchers.remove(ctx.session, str(params.uri))
        return types.EmptyResult()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # logging and resources/subscribe are gone for 2026 clients, not 2025 ones
        low.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
        low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
        low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
    low.add_request_handler("completion/complete", types.CompleteRequestParams, complete)
    for name, agent in kaizen.agents.items():
        _add_agent_prompt(sdk_server, name, agent)


def subscription_bus() -> Any:
    """The SDK's in-process bus for ``subscriptions/listen`` streams, noting the loop its listeners live on."""
    from mcp.server.subscriptions import InMemorySubscriptionBus

    class Bus(InMemorySubscriptionBus):  # type: ignore[misc, valid-type]
        loop: asyncio.AbstractEventLoop | None = None

        def subscribe(self, listener: Any) -> Any:
            self.loop = asyncio.get_running_loop()
            return super().subscribe(listener)

    return Bus()


class ResourceWatchers:
    """Who hears about which resource on one built server: 2025 sessions that sent ``resources/subscribe``
    (told with ``notifications/resources/updated``) and 2026 ``subscriptions/listen`` streams (told through
    the server's bus). Everything here runs on the server's loop except ``notify_threadsafe``."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        #: uri -> {client connection: a session object on it}
        self.sessions: dict[str, dict[Any, Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def add(self, session: Any, uri: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.sessions.setdefault(uri, {})[client_of(session)] = session

    def remove(self, session: Any, uri: str) -> None:
        watching = self.sessions.get(uri, {})
        watching.pop(client_of(session), None)
        if not watching:
            self.sessions.pop(uri, None)

    async def notify(self, uri: str) -> int:
        """Tell every subscriber of ``uri`` (or of a resource above it); returns how many sessions were told."""
        from mcp.server.subscriptions import ResourceUpdated

        from kaizen_lab.mcp._subscriptions import covers

        told = 0
        for subscribed, watching in list(self.sessions.items()):
            if not covers(subscribed, uri):
                continue
            for session in list(watching.values()):
                try:
                    await session.send_resource_updated(uri)
                    told += 1
                except Exception:  # noqa: BLE001 - that client is gone: forget it
                    self.remove(session, subscribed)
        await self.bus.publish(ResourceUpdated(uri))
        return told

    def loops(self) -> set[asyncio.AbstractEventLoop]:
        return {loop for loop in (self.loop, getattr(self.bus, "loop", None))
                if loop is not None and not loop.is_closed()}


async def resource_updated(servers: Any, uri: str) -> None:
    """``notify(uri)`` on every built server, each on its own loop (a served handle runs on its thread's)."""
    here = asyncio.get_running_loop()
    for sdk_server in list(servers):
        watchers: ResourceWatchers = sdk_server.kaizen_watchers
        loop = next(iter(watchers.loops()), here)  # one server, one loop: both kinds of subscriber live there
        if loop is here:
            await watchers.notify(uri)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(watchers.notify(uri), loop))


def _add_agent_prompt(sdk_server: Any, name: str, agent: Any) -> None:
    from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

    schema = agent.signature.input_schema()
    required = set(schema.get("required") or ())
    arguments = [PromptArgument(name=arg, description=str(prop.get("description") or prop.get("title") or arg),
                                required=arg in required)
                 for arg, prop in (schema.get("properties") or {}).items()]

    def render(**values: Any) -> str:
        return f"Run the agent {agent.agent_id!r} with " + json.dumps(values, ensure_ascii=False)

    prompt = Prompt(name=name, title=None, description=f"Ask the agent {agent.agent_id!r} (arguments are its inputs)",
                    arguments=arguments, fn=render, context_kwarg=None)
    sdk_server.add_prompt(prompt)


async def run_with_context(kaizen: AgentMCPServer, name: str, arguments: dict[str, Any], context: Any) -> Any:
    """Run an agent tool, telling the client about it: log messages at start and end (at or above the session's
    level) and, when the request carries a progress token, a progress notification after each model call, tool
    call and step of the run. A client cancelling the request cancels the run."""
    import warnings

    from kaizen_lab import events as ev

    agent = kaizen.agents[name]
    session = _session(context)
    levels = getattr(getattr(context, "mcp_server", None), "kaizen_levels", None)

    async def log(level: str, text: str) -> None:
        if session is None or (levels is not None and not levels.allows(session, level)):
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated for 2026 clients; 2025 clients still use it
                await context.log(level, text, logger_name=f"kaizen-lab.{name}")
        except Exception:  # noqa: BLE001 - a client that stopped listening must not fail the run
            return

    token = _progress_token(context)
    sent: list[float] = []
    run_ids: set[str] = set()

    async def progress(done: float, message: str) -> None:
        if token is None or context is None:
            return
        sent.append(done)
        try:
            await context.report_progress(done, None, message)
        except Exception:  # noqa: BLE001 - progress is advice; the run goes on
            return

    import asyncio

    loop = asyncio.get_running_loop()
    pending: list[Any] = []

    def on_event(event: Any) -> None:
        if event.kind == "run_started" and event.agent_id == agent.agent_id:
            run_ids.add(event.run_id)
        elif event.run_id in run_ids and event.kind in ("model_called", "tool_called", "step_finished"):
            label = getattr(event, "step", None) or event.kind.replace("_", " ")
            pending.append(asyncio.run_coroutine_threadsafe(progress(len(sent) + 1, str(label)), loop))

    remove: Callable[[], None] | None = ev.add_listener(on_event) if token is not None else None
    await log("info", f"agent {agent.agent_id!r} started")
    token_ctx = _calling.set(context)  # a ClientModel inside the run asks this client
    needed: dict[str, Any] = {}
    token_needed = _needed.set(needed)
    try:
        result = await kaizen.run_tool(name, arguments)
    finally:
        _calling.reset(token_ctx)
        _needed.reset(token_needed)
        if remove is not None:
            remove()
    for future in pending:
        if not future.done():
            await asyncio.wrap_future(future)
    if needed:
        from mcp import types

        await log("info", f"agent {agent.agent_id!r} waits for the client's model")
        return types.InputRequiredResult(input_requests=needed)
    failed = bool(getattr(result, "is_error", False))
    await log("error" if failed else "info", f"agent {agent.agent_id!r} {'failed' if failed else 'finished'}")
    return result


def _session(context: Any) -> Any:
    try:
        return context.request_context.session if context is not None else None
    except Exception:  # noqa: BLE001 - in-process calls have no session
        return None


def _progress_token(context: Any) -> Any:
    try:
        meta = context.request_context.meta
    except Exception:  # noqa: BLE001
        return None
    if isinstance(meta, dict):
        return meta.get("progress_token", meta.get("progressToken"))
    return getattr(meta, "progress_token", None) if meta is not None else None


_calling: ContextVar[Any] = ContextVar("kaizen_mcp_calling_request", default=None)
# sampling requests a 2026-protocol run could not send (no back-channel): returned as InputRequiredResult
_needed: ContextVar[dict[str, Any] | None] = ContextVar("kaizen_mcp_needed_input", default=None)


class ClientModel:
    """The model of the application that calls this MCP server: each request becomes a
    ``sampling/createMessage`` to the client. Give it to an agent you serve (``Agent(..., model=ClientModel())``);
    outside an MCP call, or when the client offers no sampling, ``fallback`` (a model or spec) answers instead,
    and without one a ``ModelError`` says so."""

    provider = "mcp-client"
    hosted = False
    supports_structured_output = False
    #: images travel to the client's model as ``image`` content of the sampling request
    supports_images = True

    def __init__(self, fallback: Any = None, *, max_tokens: int = 1024, name: str = "sampling") -> None:
        self.fallback = fallback
        self.max_tokens = max_tokens
        self.name = name

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.name}"

    async def request(self, messages: Any, *, settings: Any = None, tools: Any = None,
                      output_schema: Any = None) -> Any:
        from mcp import types

        from kaizen_lab.errors import ModelError
        from kaizen_lab.models.base import ModelResponse

        context = _calling.get()
        caps = getattr(context, "client_capabilities", None) if context is not None else None
        if caps is None or getattr(caps, "sampling", None) is None:
            if self.fallback is not None:
                from kaizen_lab.models.registry import resolve_model

                return await resolve_model(self.fallback).request(messages, settings=settings, tools=tools,
                                                                  output_schema=output_schema)
            where = "outside an MCP tool call" if context is None else "for a client that offers no sampling"
            raise ModelError(f"ClientModel has no model to ask {where}; give it fallback='local' (or another "
                             "model) or call the agent from an MCP client that supports sampling")
        system = "\n\n".join(m.text_with_placeholders() for m in messages if m.role == "system") or None
        wire = [types.SamplingMessage(role="assistant" if m.role == "assistant" else "user",
                                      content=_sampling_content(types, m))
                for m in messages if m.role != "system"]
        limit = getattr(settings, "max_tokens", None) or self.max_tokens
        temperature = getattr(settings, "temperature", None)
        import warnings

        from mcp.shared.exceptions import NoBackChannelError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated for 2026 sessions, which take the branch below
                result = await context.request_context.session.create_message(
                    messages=wire, max_tokens=limit, system_prompt=system, temperature=temperature,
                    related_request_id=context.request_id)
        except NoBackChannelError:  # 2026 protocol: the request travels in the result; the client retries
            result = self._answered_or_ask(context, wire, limit, system, temperature)
        text = getattr(result.content, "text", "") if not isinstance(result.content, list) else \
            "".join(getattr(c, "text", "") for c in result.content)
        return ModelResponse(text=text, model_name=str(result.model))

    def _answered_or_ask(self, context: Any, wire: list[Any], limit: int, system: str | None,
                         temperature: float | None) -> Any:
        import hashlib

        from mcp import types

        from kaizen_lab.errors import ModelError

        params = types.CreateMessageRequestParams(messages=wire, max_tokens=limit, system_prompt=system,
                                                  temperature=temperature)
        body = params.model_dump_json(by_alias=True, exclude_none=True)
        key = "sampling-" + hashlib.sha256(body.encode()).hexdigest()[:16]
        answered = (getattr(context, "input_responses", None) or {}).get(key)
        if answered is not None:
            return answered if not isinstance(answered, dict) else types.CreateMessageResult.model_validate(answered)
        needed = _needed.get()
        if needed is not None:
            needed[key] = types.CreateMessageRequest(method="sampling/createMessage", params=params)
        raise ModelError("the calling client must answer a sampling request first (the call is retried with the "
                         "answer)", provider=self.provider, retryable=False)


def _sampling_content(types: Any, message: Any) -> Any:
    """A message as sampling content: its text, followed by its images as ``image`` items."""
    text = types.TextContent(type="text", text=message.content or "")
    images = getattr(message, "images", ())
    if not images:
        return text
    return ([text] if message.content else []) + [
        types.ImageContent(type="image", data=image.base64(), mime_type=image.mime_type) for image in images]
