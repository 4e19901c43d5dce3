"""MCP client: one long-lived, self-healing connection per server, on the official ``mcp`` SDK (2.x).

A ``ServerSpec`` says how to reach a server (a stdio command, a URL with headers or a token, a config entry,
or an in-process ``MCPServer``). An ``MCPConnection`` owns one SDK ``Client`` inside one task on the background
loop (see ``_bridge``), caches ``tools/list`` until the server announces a change, reconnects with backoff when
an established connection drops, bounds every call by a timeout, and turns every failure into a typed
``MCPError`` whose message names the server, the tool and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_lab.errors import KaizenTimeoutError, MCPError, UserError
from kaizen_lab.mcp._bridge import call_sync, forget, on_loop
from kaizen_lab.mcp._requests import (
    CallScope,
    ClientPolicy,
    RequestHandlers,
    capability_names,
    cell_display,
    new_scope,
)
from kaizen_lab.mcp._spec import ServerSpec, server_spec
from kaizen_lab.mcp._subscriptions import ResourceSubscription, ResourceSubscriptions
from kaizen_lab.mcp.content import (
    MCPReadResult,
    MCPToolResult,
    content_from_sdk,
    resource_contents_from_sdk,
    text_of,
)

__all__ = ["MCPConnection", "MCPTimeoutError", "MCPToolInfo", "MCPToolResult", "ServerSpec", "connect",
           "server_spec"]

_CONNECTION_CLOSED = -32000


class MCPTimeoutError(MCPError, KaizenTimeoutError):
    """An MCP call (or connect) exceeded its time limit; the connection itself stays usable."""

    def __init__(self, message: str, *, server: str = "", tool: str = "", seconds: float | None = None) -> None:
        MCPError.__init__(self, message, server=server, tool=tool)
        self.seconds = seconds


@dataclass(frozen=True)
class MCPToolInfo:
    """One tool as a server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    server: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema,
                "output_schema": self.output_schema, "server": self.server}


def _describe(exc: BaseException) -> str:
    """The innermost useful message of an exception (groups are unwrapped)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class MCPConnection(ResourceSubscriptions):
    """A long-lived session with one MCP server, shared by agents, notebook cells and Kailash nodes.

    Sync methods (``connect``, ``list_tools``, ``call_tool`` ...) work from scripts, notebook cells and worker
    threads; the ``a``-prefixed forms are for async code. Every call is bounded by a timeout. Resource
    subscriptions (``subscribe``/``unsubscribe``) come from ``ResourceSubscriptions``.
    """

    def __init__(self, spec: ServerSpec, *, connect_timeout: float = 10.0, call_timeout: float = 60.0,
                 max_reconnects: int = 5, backoff: float = 0.25, policy: ClientPolicy | None = None,
                 **policy_options: Any) -> None:
        """``policy`` (or its fields as keywords: ``sampling=``, ``elicitation=``, ``roots=``, ``log_level=``
        ...) says how server requests are answered; see ``ClientPolicy``."""
        self.spec = spec
        if policy is not None and policy_options:
            raise UserError("give either policy= or its fields as keywords, not both")
        try:
            self.policy = policy or ClientPolicy(**policy_options)
        except TypeError as exc:
            raise UserError(f"unknown MCP connection option: {exc}; see ClientPolicy for the fields") from None
        self.handlers = RequestHandlers(self, self.policy)
        self.notifications: deque[Any] = deque(maxlen=500)
        self.content_types: dict[str, int] = {}
        self.capabilities: dict[str, Any] = {}
        self.resource_templates: list[dict[str, Any]] = []
        self.prompts: list[dict[str, Any]] = []
        #: completion values seen per reference (``prompt:NAME``/``resource:TEMPLATE``) and argument
        self.completions: dict[str, dict[str, list[str]]] = {}
        self._subs: dict[str, list[ResourceSubscription]] = {}
        self._listen_task: asyncio.Task[None] | None = None
        self._listen_ack: asyncio.Event | None = None
        self._oauth_flow: Any = None
        self._scopes: list[CallScope] = []
        self.name = spec.name
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.max_reconnects = max_reconnects
        self.backoff = backoff
        self.status: str = "idle"
        self.last_error: str | None = None
        self.server_name: str | None = None
        self.protocol_version: str | None = None
        self.instructions: str | None = None
        self.users: set[str] = set()
        self.calls = 0
        self.errors = 0
        self.reconnects = 0
        self._latencies: deque[float] = deque(maxlen=64)
        self._tools: tuple[MCPToolInfo, ...] | None = None
        self._tool_status: dict[str, str] = {}
        self._listeners: list[Callable[[MCPConnection], None]] = []
        self._client: Any = None
        self._owner: asyncio.Task[None] | None = None
        self._closing = False
        self._changed: asyncio.Event | None = None
        self._dead: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._errlog: Any = None
        self._http_client: Any = None
        self._http_status: int | None = None
        self._http_refusal: str | None = None

    def __repr__(self) -> str:
        return f"MCPConnection({self.name!r}, {self.spec.transport}, status={self.status!r})"

    # -- owner task (background loop only) ------------------------------------------------------------------
    def _set_status(self, status: str) -> None:
        self.status = status
        if self._changed is not None:
            event, self._changed = self._changed, asyncio.Event()
            event.set()

    def _ensure_started(self) -> bool:
        """Start the owner task if it is not running; True when this call started it."""
        if self._owner is None or self._owner.done():
            if self.status == "closed":
                raise MCPError(f"MCP connection {self.name!r} was closed; connect again", server=self.name)
            self._changed = asyncio.Event()
            self._dead = asyncio.Event()
            self._wake = asyncio.Event()
            self._owner = asyncio.get_running_loop().create_task(self._own(), name=f"mcp:{self.name}")
            return True
        return False

    def _transport(self) -> Any:
        spec = self.spec
        if spec.transport == "inprocess":
            return spec.server
        if spec.transport == "stdio":
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            env = None
            if spec.env is not None:
                from mcp.client.stdio import get_default_environment

                env = {**get_default_environment(), **spec.env}
            params = StdioServerParameters(command=spec.command or "", args=list(spec.args), env=env, cwd=spec.cwd)
            # a real file: Jupyter's sys.stderr has no descriptor to hand to the child; we also quote it on errors
            if self._errlog is None:
                self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            return stdio_client(params, errlog=self._errlog)
        from mcp.client.streamable_http import streamable_http_client

        return streamable_http_client(spec.url or "", http_client=self._http_client)

    def _stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.flush()
            self._errlog.seek(0)
            lines = [line for line in self._errlog.read().splitlines() if line.strip()]
            self._errlog.seek(0, os.SEEK_END)
        except (OSError, ValueError):
            return ""
        return " | ".join(lines[-3:])[-400:]

    async def _own(self) -> None:
        from mcp import Client

        assert self._dead is not None and self._wake is not None
        attempt = 0
        ever_connected = False
        while not self._closing:
            self._set_status("reconnecting" if ever_connected else "connecting")
            self._dead = asyncio.Event()
            try:
                async with contextlib.AsyncExitStack() as stack:
                    self._http_client = None
                    if self.spec.transport == "http":
                        import httpx2

                        self._http_client = await stack.enter_async_context(
                            httpx2.AsyncClient(headers=dict(self.spec.headers),
                                               timeout=httpx2.Timeout(30.0, read=300.0), auth=self._oauth(),
                                               event_hooks={"response": [self._on_http_response]}))
                    client = Client(self._transport(), message_handler=self._on_message,
                                    **self.handlers.client_kwargs())
                    # tell waiters at the deadline: unwinding a failed transport may take a while (a stdio
                    # child gets a grace period before it is killed), and nobody should wait for that
                    watchdog = asyncio.get_running_loop().call_later(self.connect_timeout, self._connect_expired,
                                                                     ever_connected)
                    try:
                        async with asyncio.timeout(self.connect_timeout):
                            await stack.enter_async_context(client)
                    finally:
                        watchdog.cancel()
                    self._client = client
                    self.protocol_version = client.protocol_version
                    info = client.server_info
                    self.server_name = info.name if info is not None else None
                    self.instructions = client.instructions
                    with contextlib.suppress(Exception):
                        self.capabilities = client.server_capabilities.model_dump(by_alias=True, exclude_none=True)
                    await self._opt_into_logging(client)
                    await self._renew_subscriptions(client)
                    if ever_connected:
                        self.reconnects += 1
                        self._invalidate_tools()
                    ever_connected = True
                    attempt = 0
                    self.last_error = None
                    self._start_listen(client)
                    self._set_status("ready")
                    try:
                        await self._dead.wait()
                    finally:
                        self._client = None
                        await self._stop_listen()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - every transport failure becomes last_error
                reason = self._http_refusal or _describe(exc)
                self._http_refusal = None
                if isinstance(exc, TimeoutError):
                    reason = f"no answer within connect_timeout={self.connect_timeout}s"
                tail = self._stderr_tail()
                self.last_error = reason + (f" (server stderr: {tail})" if tail else "")
            if self._closing:
                break
            attempt += 1
            if not ever_connected or attempt > self.max_reconnects:
                self._set_status("down")
                await self._wake.wait()
                self._wake.clear()
                attempt = 0
                continue
            self._set_status("reconnecting")
            await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))
        self._set_status("closed")

    def _oauth(self) -> Any:
        """The OAuth flow of this connection (kept across reconnects, so are its tokens), if it has one."""
        options = self.policy.oauth
        if options is None and self.spec.oauth:
            from kaizen_lab.mcp._oauth import MCPOAuth

            options = MCPOAuth()
        if options is None or self.spec.url is None:
            return None
        if self._oauth_flow is None:
            self._oauth_flow = options.provider(self.spec.url, show=self.current_display())
        return self._oauth_flow

    def _connect_expired(self, ever_connected: bool) -> None:
        if self._client is None:
            self.last_error = f"no answer within connect_timeout={self.connect_timeout}s"
            if not ever_connected:
                self._set_status("down")

    async def _opt_into_logging(self, client: Any) -> None:
        """On handshake-era servers, ``logging/setLevel`` decides which log messages arrive."""
        if "logging" in self.capabilities and not str(self.protocol_version or "").startswith("2026"):
            import warnings

            with contextlib.suppress(Exception), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await client.set_logging_level(self.policy.log_level)

    # -- calls in flight (server requests are answered in the context of the newest one) ---------------------
    def current_scope(self) -> CallScope | None:
        return self._scopes[-1] if self._scopes else None

    def current_display(self) -> Callable[[Any], None]:
        scope = self.current_scope()
        show = getattr(scope, "display", None) or cell_display()
        return show if show is not None else (lambda obj: None)

    async def _on_http_response(self, response: Any) -> None:
        # the SDK reports a refused request only as "Server returned an error response"; keep the status
        self._http_status = response.status_code
        if response.status_code < 400:
            self._http_refusal = None  # e.g. the 401 that started an OAuth flow which then succeeded
        elif response.status_code in (401, 403):
            if self._oauth_flow is not None:
                hint = "OAuth authorization did not succeed"
            elif "Authorization" in self.spec.headers:
                hint = "the bearer token was refused; check it"
            else:
                hint = ("send a bearer token: token='...' or headers={'Authorization': 'Bearer ...'}, or "
                        "authorize with oauth=True (or oauth=MCPOAuth(...))")
            self._http_refusal = f"HTTP {response.status_code} from {self.spec.url}: {hint}"

    def _start_listen(self, client: Any) -> None:
        self._listen_ack = asyncio.Event()
        self._listen_task = asyncio.get_running_loop().create_task(self._listen(client, self._listen_ack))

    async def _stop_listen(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _listen(self, client: Any, ack: asyncio.Event) -> None:
        """On the 2026 protocol, list changes and updates of subscribed resources arrive on a
        ``subscriptions/listen`` stream."""
        from mcp.client.subscriptions import ResourceUpdated

        try:
            async with client.listen(tools_list_changed=True, resource_subscriptions=sorted(self._subs)) as sub:
                ack.set()
                async for event in sub:
                    if isinstance(event, ResourceUpdated):
                        self._resource_updated(str(event.uri))
                    else:
                        self._invalidate_tools()
        except asyncio.CancelledError:
            raise
        except BaseException:  # noqa: BLE001 - older servers can't listen; they push notifications instead
            return
        finally:
            ack.set()

    async def _on_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method == "notifications/tools/list_changed":
            self._invalidate_tools()
        elif method == "notifications/resources/updated" and not self._modern:
            # (2026 sessions hear it on the listen stream, which the SDK also passes here)
            self._resource_updated(str(message.params.uri))

    def _invalidate_tools(self) -> None:
        self._tools = None
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # noqa: BLE001 - a listener's bug must not break the session
                pass

    def _mark_dead(self, reason: str) -> None:
        self.last_error = reason
        if self._dead is not None:
            self._dead.set()

    async def _await_client(self, timeout: float) -> Any:
        woke = self._ensure_started()  # a fresh owner's first attempt counts as the one try
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout + 0.5  # let the owner's own connect timeout speak first
        while True:
            if self._client is not None and self.status == "ready":
                return self._client
            if self.status == "closed":
                raise MCPError(f"MCP connection {self.name!r} was closed; connect again", server=self.name)
            if self.status == "down":
                if woke:
                    hint = "" if self.last_error and self.last_error.startswith("HTTP 40") else \
                        "; check that the command or URL starts the server"
                    raise MCPError(f"MCP server {self.name!r} ({self.spec.target}) is not reachable: "
                                   f"{self.last_error}{hint}", server=self.name)
                assert self._wake is not None
                self._wake.set()
                woke = True
            assert self._changed is not None
            changed = self._changed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise MCPTimeoutError(f"MCP server {self.name!r} was not ready within {timeout}s (status "
                                      f"{self.status}, last error: {self.last_error}); raise connect_timeout= "
                                      "or check the server", server=self.name, seconds=timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def _request(self, what: str, tool: str, timeout: float | None, fn: Callable[[Any], Any]) -> Any:
        timeout = timeout or self.call_timeout
        client = await self._await_client(min(timeout, self.connect_timeout))
        try:
            async with asyncio.timeout(timeout):
                return await fn(client)
        except TimeoutError:
            raise MCPTimeoutError(f"{what} on MCP server {self.name!r} got no answer within {timeout}s; raise "
                                  "timeout= or check the server", server=self.name, tool=tool,
                                  seconds=timeout) from None
        except MCPError:
            raise
        except Exception as exc:
            from mcp.shared.exceptions import MCPError as SDKError

            reason = _describe(exc)
            if isinstance(exc, SDKError) and getattr(exc, "code", None) != _CONNECTION_CLOSED:
                raise MCPError(f"MCP server {self.name!r} refused {what}: {reason}", server=self.name,
                               tool=tool) from None
            tail = self._stderr_tail()
            self._mark_dead(reason + (f" (server stderr: {tail})" if tail else ""))
            raise MCPError(f"MCP server {self.name!r} ({self.spec.target}) went away during {what}: {reason}"
                           f"{f' (server stderr: {tail})' if tail else ''}; it will be restarted on the next call",
                           server=self.name, tool=tool) from None

    # -- async API (any loop) ------------------------------------------------------------------------------
    async def aconnect(self) -> MCPConnection:
        """Connect (or wait for the running connection) and list the tools."""
        await self.alist_tools()
        return self

    async def alist_tools(self, *, refresh: bool = False) -> tuple[MCPToolInfo, ...]:
        """The server's tools, cached until the server says the list changed (or ``refresh=True``)."""
        tools = self._tools
        if tools is not None and not refresh:
            return tools
        return await on_loop(self._fetch_tools())

    async def _fetch_tools(self) -> tuple[MCPToolInfo, ...]:
        async def fetch(client: Any) -> tuple[MCPToolInfo, ...]:
            items: list[MCPToolInfo] = []
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                items += [MCPToolInfo(t.name, t.description or "", dict(t.input_schema or {}),
                                      dict(t.output_schema) if t.output_schema else None, self.name)
                          for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    return tuple(items)

        t0 = time.perf_counter()
        tools = await self._request("tools/list", "", self.connect_timeout, fetch)
        self._latencies.append((time.perf_counter() - t0) * 1000)
        self._tools = tools
        return tools

    async def acall_tool(self, name: str, arguments: Mapping[str, Any] | None = None, *,
                         timeout: float | None = None, agent: Any = None,
                         on_progress: Callable[[float, float | None, str | None], None] | None = None
                         ) -> MCPToolResult:
        """Call a tool; an ``is_error`` answer is returned (check ``.is_error``), transport failures raise.

        ``agent`` (whose model answers sampling requests) and ``on_progress(progress, total, message)`` are
        optional; progress and log notifications become ``MCPNotified`` events of the current run."""
        scope = new_scope(agent, on_progress)
        return await on_loop(self._call(name, dict(arguments or {}), timeout, scope))

    async def _call(self, name: str, arguments: dict[str, Any], timeout: float | None,
                    scope: CallScope | None = None) -> MCPToolResult:
        t0 = time.perf_counter()
        self.calls += 1
        scope = scope or CallScope()
        self._scopes.append(scope)

        async def progress(value: float, total: float | None, message: str | None) -> None:
            self.handlers.progress(scope, value, total, message)

        try:
            result = await self._request(f"the call to tool {name!r}", name, timeout,
                                         lambda c: c.call_tool(name, arguments, progress_callback=progress))
        except MCPError as exc:
            self.errors += 1
            self._tool_status[name] = f"error: {exc.message[:120]}"
            raise
        except asyncio.CancelledError:
            from kaizen_lab.mcp._requests import _notify

            _notify(self, scope, "cancelled", tool=name)
            self._tool_status[name] = "cancelled"
            raise
        finally:
            self._scopes.remove(scope)
        ms = (time.perf_counter() - t0) * 1000
        self._latencies.append(ms)
        content = tuple(content_from_sdk(c) for c in result.content or ())
        for item in content:
            self.content_types[item.type] = self.content_types.get(item.type, 0) + 1
        out = MCPToolResult(name, self.name, bool(result.is_error), text_of(content), result.structured_content,
                            ms, content)
        if out.is_error:
            self.errors += 1
        self._tool_status[name] = f"error: {out.text[:120]}" if out.is_error else "ok"
        return out

    async def acall(self, name: str, arguments: Mapping[str, Any] | None = None, *,
                    timeout: float | None = None) -> Any:
        """Call a tool and return its value; an ``is_error`` answer raises ``MCPError`` with its message."""
        result = await self.acall_tool(name, arguments, timeout=timeout)
        if result.is_error:
            raise MCPError(f"tool {name!r} on MCP server {self.name!r} failed: {result.text}", server=self.name,
                           tool=name)
        return result.value

    async def alist_resources(self) -> list[dict[str, Any]]:
        res = await on_loop(self._request("resources/list", "", None, lambda c: c.list_resources()))
        return [{"uri": str(r.uri), "name": r.name, "description": r.description, "mime_type": r.mime_type}
                for r in res.resources]

    async def aread_resource(self, uri: str) -> MCPReadResult:
        """Read a resource: every item typed (text, or a blob's bytes with its MIME type)."""
        res = await on_loop(self._request(f"resources/read {uri}", "", None, lambda c: c.read_resource(uri)))
        return MCPReadResult(uri, self.name, tuple(resource_contents_from_sdk(c) for c in res.contents))

    async def alist_resource_templates(self) -> list[dict[str, Any]]:
        res = await on_loop(self._request("resources/templates/list", "", None,
                                          lambda c: c.list_resource_templates()))
        from kaizen_lab.mcp._catalog import template_variables

        self.resource_templates = [{"uri_template": t.uri_template, "name": t.name, "description": t.description,
                                    "mime_type": t.mime_type, "variables": template_variables(t.uri_template)}
                                   for t in res.resource_templates]
        return list(self.resource_templates)

    async def acomplete(self, ref: str, argument: str, value: str = "",
                        context: Mapping[str, str] | None = None) -> list[str]:
        """Completions for an argument of a prompt (``ref="prompt:NAME"``) or a resource template
        (``ref="resource:URI-TEMPLATE"`` or just the template)."""
        from mcp import types

        kind, _, target = ref.partition(":") if ref.startswith(("prompt:", "resource:")) else ("resource", "", ref)
        reference: Any = types.PromptReference(type="ref/prompt", name=target) if kind == "prompt" else \
            types.ResourceTemplateReference(type="ref/resource", uri=target)
        res = await on_loop(self._request(f"completion/complete {ref}", "", None, lambda c: c.complete(
            reference, {"name": argument, "value": value}, dict(context) if context else None)))
        values = [str(v) for v in res.completion.values]
        if not value and not context:  # the whole list for this argument: what the discovery panel shows
            self.completions.setdefault(f"{kind}:{target}", {})[argument] = values
        return values

    async def acompletion_catalog(self) -> dict[str, dict[str, list[str]]]:
        """The values ``completion/complete`` offers for every prompt argument and resource-template variable
        (``{"prompt:NAME": {"arg": [...]}, "resource:TEMPLATE": {...}}``); kept for ``info()`` and the panel."""
        from kaizen_lab.mcp._catalog import completion_catalog

        return await completion_catalog(self)

    async def alist_prompts(self) -> list[dict[str, Any]]:
        res = await on_loop(self._request("prompts/list", "", None, lambda c: c.list_prompts()))
        self.prompts = [{"name": p.name, "description": p.description,
                         "arguments": [a.name for a in (p.arguments or ())]} for p in res.prompts]
        return [dict(p) for p in self.prompts]

    async def aget_prompt(self, name: str, arguments: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        res = await on_loop(self._request(f"prompts/get {name}", "", None,
                                          lambda c: c.get_prompt(name, dict(arguments or {}))))
        out = []
        for m in res.messages:
            item = content_from_sdk(m.content)
            out.append({"role": m.role, "text": item.model_text(), "content": item})
        return out

    async def aping(self) -> float:
        """Round-trip a ping; returns milliseconds."""
        t0 = time.perf_counter()
        def probe(client: Any) -> Any:
            # ping is gone from the 2026 protocol; there, server/discover is the cheapest round trip
            if str(self.protocol_version or "") >= "2026":
                return client.session.discover()
            return client.session.send_ping()  # negotiated a pre-2026 protocol, where ping exists

        await on_loop(self._request("ping", "", self.connect_timeout, probe))
        return (time.perf_counter() - t0) * 1000

    async def aclose(self) -> None:
        await on_loop(self._close())

    async def _close(self) -> None:
        self._closing = True
        if self._dead is not None:
            self._dead.set()
        if self._wake is not None:
            self._wake.set()
        owner = self._owner
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(asyncio.shield(owner), 5.0)
            except (TimeoutError, Exception):  # noqa: BLE001 - a stuck transport is cancelled instead
                owner.cancel()
        self.status = "closed"
        for sub in self.subscriptions():
            sub._end()
        self._subs.clear()
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
        forget(self)

    # -- sync API ------------------------------------------------------------------------------------------
    def _sync(self, coro: Any, timeout: float | None) -> Any:
        # the coroutine bounds itself; the extra seconds only guard against a wedged loop
        return call_sync(coro, timeout=(timeout or self.call_timeout) + self.connect_timeout + 5.0)

    def connect(self) -> MCPConnection:
        """Connect now (instead of on first use) and list the tools; raise ``MCPError`` if that fails."""
        self._sync(self._fetch_tools() if self._tools is None else _noop(), self.connect_timeout)
        return self

    def list_tools(self, *, refresh: bool = False) -> tuple[MCPToolInfo, ...]:
        """The server's tools (cached; ``refresh=True`` asks the server again)."""
        tools = self._tools
        if tools is not None and not refresh:
            return tools
        return self._sync(self._fetch_tools(), self.connect_timeout)

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout: float | None = None,
                  agent: Any = None, on_progress: Callable[[float, float | None, str | None], None] | None = None
                  ) -> MCPToolResult:
        """Sync form of ``acall_tool``; interrupting the caller (Ctrl-C, the notebook's stop button) cancels the
        request on the server."""
        scope = new_scope(agent, on_progress)
        scope.blocking = True
        return self._sync(self._call(name, dict(arguments or {}), timeout, scope), timeout)

    def call(self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Sync form of ``acall``: the tool's value, or ``MCPError`` when the tool reports an error."""
        return self._sync(self.acall(name, arguments, timeout=timeout), timeout)

    def list_resources(self) -> list[dict[str, Any]]:
        return self._sync(self.alist_resources(), None)

    def read_resource(self, uri: str) -> MCPReadResult:
        return self._sync(self.aread_resource(uri), None)

    def list_resource_templates(self) -> list[dict[str, Any]]:
        return self._sync(self.alist_resource_templates(), None)

    def complete(self, ref: str, argument: str, value: str = "", context: Mapping[str, str] | None = None
                 ) -> list[str]:
        return self._sync(self.acomplete(ref, argument, value, context), None)

    def list_prompts(self) -> list[dict[str, Any]]:
        return self._sync(self.alist_prompts(), None)

    def completion_catalog(self) -> dict[str, dict[str, list[str]]]:
        """Sync form of ``acompletion_catalog``."""
        return self._sync(self.acompletion_catalog(), None)

    def get_prompt(self, name: str, arguments: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return self._sync(self.aget_prompt(name, arguments), None)

    def ping(self) -> float:
        return self._sync(self.aping(), self.connect_timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Close the session (a stdio server process is stopped)."""
        if self.status != "closed":
            call_sync(self._close(), timeout=timeout)

    def add_listener(self, fn: Callable[[MCPConnection], None]) -> Callable[[], None]:
        """Call ``fn(connection)`` (on the background loop) whenever the tool list changes."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    # -- summary -------------------------------------------------------------------------------------------
    @property
    def latency_ms(self) -> float | None:
        return statistics.median(self._latencies) if self._latencies else None

    def info(self) -> dict[str, Any]:
        """Plain data for panels: status, transport, latency, last error, tools with their schemas, users."""
        tools = self._tools or ()
        return {"name": self.name, "server_name": self.server_name, "transport": self.spec.transport,
                "target": self.spec.target, "status": self.status, "latency_ms": self.latency_ms,
                "last_error": self.last_error, "protocol_version": self.protocol_version, "calls": self.calls,
                "errors": self.errors, "reconnects": self.reconnects, "used_by": sorted(self.users),
                "capabilities": capability_names(self.capabilities), "content_types": dict(self.content_types),
                "resource_templates": list(self.resource_templates), "prompts": list(self.prompts),
                "completions": {ref: dict(args) for ref, args in self.completions.items()},
                "client_offers": {"sampling": self.policy.sampling, "elicitation": self.policy.elicitation,
                                  "roots": True},
                "tools": [{**t.to_dict(), "status": self._tool_status.get(t.name, "untried")} for t in tools]}


async def _noop() -> None:
    return None


def connect(server: Any, *, name: str | None = None, shared: bool = True, **options: Any) -> MCPConnection:
    """Connect to one MCP server and return the live connection (shared per spec unless ``shared=False``).

    Example:
        >>> conn = connect("python -m mcp_server_time")                  # doctest: +SKIP
        >>> conn.call("get_current_time", {"timezone": "UTC"})            # doctest: +SKIP
    """
    from kaizen_lab.mcp._bridge import get_connection

    spec = server_spec(server, name)
    if options.get("connect_timeout", 1) <= 0 or options.get("call_timeout", 1) <= 0:
        raise UserError("connect_timeout and call_timeout must be positive seconds")
    conn = get_connection(spec, **options) if shared else MCPConnection(spec, **options)
    try:
        return conn.connect()
    except MCPError:
        if not shared:  # nobody else holds it: don't leave its owner task behind
            conn.close()
        raise

