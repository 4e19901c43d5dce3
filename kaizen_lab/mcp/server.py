"""Agents as MCP servers, on the official SDK's ``MCPServer``.

Each agent is one tool: its input schema is the signature's input JSON Schema and its structured output is
the signature's output object (declared as the tool's ``outputSchema``). A failed run comes back as an
``is_error`` result whose text is the typed error (``UserError: unknown input 'questoin' ...``), never as a
protocol error. Several agents share one server; ordinary ``@server.tool()`` functions can sit beside them.

HTTP binds 127.0.0.1 by default and requires a bearer token (compared in constant time) unless ``auth=False``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import importlib
import importlib.util
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from kaizen_lab._net import listen_socket
from kaizen_lab.errors import ConfigError, KaizenError, UserError, did_you_mean

__all__ = ["AgentMCPServer", "MCPServerHandle", "cli_command", "expose", "load_agents", "serve_main"]

_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def tool_name_for(agent: Any) -> str:
    """The MCP tool name of an agent (its id, with characters MCP tool names can't hold replaced)."""
    return _NAME_OK.sub("_", agent.agent_id)[:128]


@cache
def _server_class() -> type:
    """``MCPServer`` with the agents' tools listed and called beside its own (built lazily: mcp is heavy)."""
    from mcp.server.mcpserver import MCPServer

    class KaizenMCPServer(MCPServer):  # type: ignore[misc, valid-type]
        kaizen: AgentMCPServer

        async def list_tools(self) -> list[Any]:
            return [*self.kaizen.mcp_tools(), *await super().list_tools()]

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            if name in self.kaizen.agents:
                from kaizen_lab.mcp._serverside import run_with_context

                return await run_with_context(self.kaizen, name, arguments, context)
            return await super().call_tool(name, arguments, context)

    return KaizenMCPServer


def package_version() -> str:
    """kaizen-lab's own version (the version every MCP server of ours reports)."""
    import kaizen_lab

    return str(kaizen_lab.__version__)


def _title(agent_id: str) -> str:
    words = re.sub(r"[_.-]+", " ", agent_id).strip()
    return (words[:1].upper() + words[1:]) if words else agent_id


def _annotations(agent: Any) -> Any:
    """What is known about an agent tool: without tools of its own it only asks its model (read-only); its
    answers vary between runs (not idempotent); a hosted model reaches outside this process (open world)."""
    from mcp.types import ToolAnnotations

    pure = len(agent.tools) == 0 and not getattr(agent, "mcp_connections", None)
    local = getattr(agent.model, "provider", "") in ("test", "function", "scripted", "local")
    return ToolAnnotations(title=_title(agent.agent_id), read_only_hint=True if pure else None,
                           destructive_hint=False if pure else None, idempotent_hint=False,
                           open_world_hint=not local if pure else True)


class _TokenVerifier:
    """One static bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        if hmac.compare_digest(token.encode(), self._expected):
            return AccessToken(token=token, client_id="kaizen-lab", scopes=[])
        return None


class AgentMCPServer:
    """One MCP server exposing one or more agents as tools.

    Args:
        agents: the agents to expose (one tool each, named by ``agent_id``).
        name: the server name clients see (default: the single agent's id, or ``kaizen-lab``).
        instructions: shown to clients on connect.
    """

    def __init__(self, agents: Iterable[Any], *, name: str | None = None, instructions: str | None = None) -> None:
        self.agents: dict[str, Any] = {}
        for agent in agents:
            self.add(agent)
        if not self.agents:
            raise UserError("an MCP server needs at least one agent: AgentMCPServer([agent, ...])")
        self.name = name or (next(iter(self.agents)) if len(self.agents) == 1 else "kaizen-lab")
        self.title = f"kaizen-lab agents: {', '.join(self.agents)}"[:120]
        self.instructions = instructions or "Agents built with kaizen-lab; each tool runs one agent."
        self._extra: list[Any] = []
        self._resources: list[Any] = []
        self._prompts: list[Any] = []
        self.completers: list[Any] = []
        self._built: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, agent: Any) -> None:
        """Add another agent as a tool; names must be unique."""
        if not hasattr(agent, "aexecute") or not hasattr(agent, "signature"):
            raise UserError(f"only Agent objects can be exposed as MCP tools, got {type(agent).__name__}")
        name = tool_name_for(agent)
        if name in self.agents and self.agents[name] is not agent:
            raise UserError(f"two agents would both be the MCP tool {name!r}; give them different agent_ids")
        self.agents[name] = agent

    def tool(self, *args: Any, **kwargs: Any) -> Any:
        """Register an ordinary function tool beside the agents (same arguments as ``MCPServer.tool``)."""
        def decorator(fn: Any) -> Any:
            self._extra.append((fn, args, kwargs))
            return fn
        return decorator

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        """Register a resource (or template) function (same arguments as ``MCPServer.resource``)."""
        def decorator(fn: Any) -> Any:
            self._resources.append((fn, args, kwargs))
            return fn
        return decorator

    def prompt(self, *args: Any, **kwargs: Any) -> Any:
        """Register a prompt function (same arguments as ``MCPServer.prompt``)."""
        def decorator(fn: Any) -> Any:
            self._prompts.append((fn, args, kwargs))
            return fn
        return decorator

    def completer(self, fn: Any) -> Any:
        """Add ``fn(ref, argument, value, context) -> values | None`` to answer ``completion/complete`` (tried
        before the agents' own ``Literal`` inputs)."""
        self.completers.append(fn)
        return fn

    def mcp_tools(self) -> list[Any]:
        """The agents as MCP ``Tool`` definitions."""
        from mcp.types import Tool

        tools = []
        for name, agent in self.agents.items():
            sig = agent.signature
            description = sig.instructions or f"Run the agent {agent.agent_id!r}: {sig}"
            tools.append(Tool(name=name, title=_title(agent.agent_id), description=description,
                              input_schema=sig.input_schema(), output_schema=sig.output_schema(),
                              annotations=_annotations(agent)))
        return tools

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run the agent behind tool ``name``; failures become ``is_error`` results with the typed message."""
        from mcp.types import CallToolResult, TextContent
        from pydantic_core import to_jsonable_python

        agent = self.agents[name]
        try:
            result = await agent.aexecute(**dict(arguments or {}))
            data = to_jsonable_python(result.data)
        except KaizenError as exc:
            return CallToolResult(content=[TextContent(type="text", text=f"{type(exc).__name__}: {exc.message}")],
                                  is_error=True)
        except Exception as exc:  # noqa: BLE001 - reported to the client, typed, instead of a protocol error
            return CallToolResult(content=[TextContent(type="text", text=f"{type(exc).__name__}: {exc}")],
                                  is_error=True)
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
                              structured_content=data)

    def build(self, *, token: str | None = None, url: str | None = None) -> Any:
        """A fresh SDK server object; with ``token`` its HTTP app requires ``Authorization: Bearer <token>``."""
        from mcp.server.auth.settings import AuthSettings

        kwargs: dict[str, Any] = {"instructions": self.instructions, "log_level": "WARNING",
                                  "version": package_version(), "title": self.title}
        if token is not None:
            if url is None:
                raise UserError("a token-protected MCP server needs its URL")
            base = url.rsplit("/", 1)[0]
            kwargs["token_verifier"] = _TokenVerifier(token)
            # a static bearer token, not OAuth: no resource_server_url, so no protected-resource metadata is
            # served or pointed at (clients would otherwise start an OAuth flow against this server)
            kwargs["auth"] = AuthSettings.model_validate({"issuer_url": base, "resource_server_url": None,
                                                          "validate_token_resource": False})
        from kaizen_lab.mcp._serverside import ResourceWatchers, subscription_bus

        kwargs["subscriptions"] = bus = subscription_bus()
        server = _server_class()(self.name, **kwargs)
        server.kaizen = self
        server.kaizen_watchers = ResourceWatchers(bus)
        self._built.add(server)
        for fn, args, kw in self._extra:
            server.tool(*args, **kw)(fn)
        for fn, args, kw in self._resources:
            server.resource(*args, **kw)(fn)
        for fn, args, kw in self._prompts:
            server.prompt(*args, **kw)(fn)
        from kaizen_lab.mcp._serverside import install

        install(server, self)
        return server

    async def aresource_updated(self, uri: str) -> None:
        """Tell the clients subscribed to ``uri`` (``resources/subscribe`` or a ``subscriptions/listen`` stream)
        that it changed; they read it again."""
        from kaizen_lab.mcp._serverside import resource_updated

        await resource_updated(self._built, uri)

    def resource_updated(self, uri: str, *, timeout: float = 10.0) -> None:
        """Sync form of ``aresource_updated`` (from a notebook cell, a script or a tool on another thread)."""
        from kaizen_lab._aio import run_sync

        run_sync(self.aresource_updated(uri), timeout=timeout)

    def serve(self, transport: Literal["stdio", "http"] = "http", *, host: str = "127.0.0.1",
              port: int | None = None, token: str | None = None, auth: bool = True,
              start: bool = True) -> MCPServerHandle:
        """A server handle; HTTP servers are started unless ``start=False``."""
        handle = MCPServerHandle(self, transport, host=host, port=port, token=token, auth=auth)
        if start and transport == "http":
            handle.start()
        return handle


class MCPServerHandle:
    """A served agent server: ``start()``, ``stop()``, ``url``, ``token``; a context manager.

    HTTP serves on its own thread and event loop. stdio serves this process's stdin/stdout: call ``run()``
    (blocking, e.g. from ``kaizen-lab mcp serve``) or ``start()`` (a background thread, outside notebooks).
    """

    def __init__(self, server: AgentMCPServer, transport: str = "http", *, host: str = "127.0.0.1",
                 port: int | None = None, token: str | None = None, auth: bool = True) -> None:
        if transport not in ("stdio", "http"):
            raise ConfigError(f"unknown MCP transport {transport!r}{did_you_mean(transport, ['stdio', 'http'])}; "
                              "use 'stdio' or 'http'", path="transport", value=transport, allowed="stdio, http")
        if port is not None and not (0 <= int(port) < 65536):
            raise ConfigError(f"port must be 0-65535 (or None for a free one), got {port}", path="port", value=port)
        if token is not None and auth is False:
            raise UserError("token= and auth=False contradict each other; drop one")
        if token is not None and len(token) < 16:
            raise UserError("an MCP bearer token must be at least 16 characters; use secrets.token_urlsafe()")
        self.server = server
        self.transport = transport
        self.host = host
        self.port = port
        self.auth = auth if transport == "http" else False
        self.token: str | None = (token or secrets.token_urlsafe(24)) if self.auth else None
        self._uvicorn: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._error: BaseException | None = None
        self.sdk_server: Any = None

    @property
    def url(self) -> str | None:
        """The streamable HTTP endpoint (``None`` for stdio or before ``start``)."""
        if self.transport != "http" or self.port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def client_spec(self) -> Any:
        """What ``connect_to_mcp_servers`` needs to reach this server (URL and token, or the in-process server)."""
        if self.transport == "http":
            if not self.running:
                raise UserError("this MCP server is not running; call .start() first")
            entry: dict[str, Any] = {"url": self.url, "name": self.server.name}
            if self.token:
                entry["token"] = self.token
            return entry
        return self.sdk_server or self.server.build()

    def start(self) -> MCPServerHandle:
        """Start serving in the background; returns ``self``."""
        if self.running:
            return self
        if self.transport == "http":
            self._start_http()
        else:
            try:
                sys.stdin.fileno()
                sys.stdout.fileno()
            except (AttributeError, OSError, ValueError):
                raise UserError("stdio serving needs this process's own stdin/stdout, which a notebook kernel "
                                "doesn't have; use transport='http', or `kaizen-lab mcp serve module:agent`") from None
            self._start_thread(self._serve_stdio())
        return self

    def _start_http(self) -> None:
        import uvicorn

        sock = listen_socket(self.host, self.port, what="MCP")
        self.port = sock.getsockname()[1]
        self.sdk_server = self.server.build(token=self.token, url=self.url)
        app = self.sdk_server.streamable_http_app(host=self.host)
        from kaizen_lab.security.limits import LimitsMiddleware, uvicorn_http_protocol

        # HTTP limits (body size, JSON depth, slow clients) in front of the SDK's app
        config = uvicorn.Config(LimitsMiddleware(app, jsonrpc=True), log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=1, http=uvicorn_http_protocol(),
                                timeout_keep_alive=5)
        self._uvicorn = uvicorn.Server(config)
        self._start_thread(self._uvicorn.serve(sockets=[sock]), sock=sock)
        for _ in range(200):
            if self._uvicorn.started or not self.running:
                break
            threading.Event().wait(0.025)
        if not self._uvicorn.started:
            self.stop()
            raise ConfigError(f"the MCP HTTP server did not start on {self.host}:{self.port}: {self._error}")

    async def _serve_stdio(self) -> None:
        self.sdk_server = self.sdk_server or self.server.build()
        await self.sdk_server.run_stdio_async()

    def _start_thread(self, coro: Any, sock: socket.socket | None = None) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._task = loop.create_task(coro)
                ready.set()
                loop.run_until_complete(self._task)
            except BaseException as exc:  # noqa: BLE001 - kept for start()'s error message
                self._error = exc
            finally:
                ready.set()
                if sock is not None:
                    sock.close()
                loop.close()

        self._thread = threading.Thread(target=run, name=f"kaizen-mcp-{self.transport}", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (idempotent)."""
        quiet = logging.getLogger("uvicorn.error")
        level = quiet.level
        if self._uvicorn is not None:
            # open client streams are cut after a 1 s grace; uvicorn logs that as an error, which it isn't here
            quiet.setLevel(logging.CRITICAL)
            self._uvicorn.should_exit = True
        elif self._loop is not None and self._task is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        quiet.setLevel(level)

    def run(self) -> None:
        """Serve in the foreground until interrupted (the console entry uses this)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise UserError("run() blocks and can't be used inside a running event loop (a notebook); use "
                            "transport='http' with .start(), or `kaizen-lab mcp serve module:agent`")
        if self.transport == "stdio":
            self.sdk_server = self.server.build()
            self.sdk_server.run("stdio")
            return
        self.start()
        try:
            assert self._thread is not None
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> MCPServerHandle:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url or self.transport
        state = "running" if self.running else "stopped"
        return (f"MCPServerHandle({self.server.name!r}, {where}, {state}, tools={list(self.server.agents)}, "
                f"auth={'bearer' if self.token else 'off'})")


def expose(agents: Any, transport: Literal["stdio", "http"] = "stdio", *, host: str = "127.0.0.1",
           port: int | None = None, token: str | None = None, auth: bool = True,
           name: str | None = None) -> MCPServerHandle:
    """Expose one agent or several as an MCP server; HTTP handles come back running.

    Example:
        >>> handle = expose([qa, summarizer], "http")                           # doctest: +SKIP
        >>> handle.url, handle.token                                           # doctest: +SKIP
    """
    agent_list = list(agents) if isinstance(agents, list | tuple | set) else [agents]
    return AgentMCPServer(agent_list, name=name).serve(transport, host=host, port=port, token=token, auth=auth)


def load_agents(target: str) -> list[Any]:
    """Agents named by ``module:attr`` or ``path/to/file.py:attr`` (no ``:attr``: every Agent in the module)."""
    from kaizen_lab.agents.agent import Agent

    module_ref, _, attr = target.partition(":")
    try:
        if module_ref.endswith(".py") or os.sep in module_ref:
            path = Path(module_ref).resolve()
            if not path.exists():
                raise ConfigError(f"no such file {module_ref!r}; give module:agent or path/to/file.py:agent")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules.setdefault(path.stem, module)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_ref)
    except ImportError as exc:
        raise ConfigError(f"can't import {module_ref!r}: {exc}; run from the project folder or give a file path",
                          path="target", value=target) from None
    if attr:
        if not hasattr(module, attr):
            names = [n for n in vars(module) if not n.startswith("_")]
            raise ConfigError(f"{module_ref!r} has no {attr!r}{did_you_mean(attr, names)}", path="target",
                              value=target)
        obj = getattr(module, attr)
        obj = obj() if callable(obj) and not isinstance(obj, Agent) and not isinstance(obj, type) else obj
        found = list(obj) if isinstance(obj, list | tuple) else [obj]
    else:
        found = [v for v in vars(module).values() if isinstance(v, Agent)]
    agents = [a for a in found if isinstance(a, Agent)]
    if not agents or len(agents) != len(found):
        raise ConfigError(f"{target!r} names no Agent (found {[type(f).__name__ for f in found]}); point it at "
                          "an Agent, a list of Agents, or a function returning them", path="target", value=target)
    return agents


def cli_command(argv: Sequence[str]) -> int:
    """``kaizen-lab mcp SUBCOMMAND``: today ``serve``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab mcp", description="MCP tools for kaizen-lab agents.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(sub.add_parser("serve", help="serve agents as MCP tools (stdio, or --http)"))
    return run_serve(parser.parse_args(list(argv)))


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``kaizen-lab mcp serve module:agent [more ...] [--http] [--host] [--port] [--token] [--no-auth]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab mcp serve",
                                     description="Serve agents as MCP tools (stdio by default).")
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="+", metavar="module:agent",
                        help="agents to expose: module:attr or path/to/file.py:attr")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765; 0 picks a free one)")
    parser.add_argument("--token", default=None,
                        help="bearer token clients must send (default: $KAIZEN_MCP_TOKEN, else a new random one)")
    parser.add_argument("--no-auth", action="store_true", help="serve HTTP without a token (loopback only)")
    parser.add_argument("--name", default=None, help="server name shown to clients")


def run_serve(args: argparse.Namespace) -> int:
    agents = [a for target in args.targets for a in load_agents(target)]
    from kaizen_lab.models.local import warm_local_models

    started = time.perf_counter()
    warmed = warm_local_models(agents)  # the embedded model loads now, not on the first tool call
    if warmed:
        print(f"embedded model loaded and warmed for {warmed} in {time.perf_counter() - started:.1f} s",
              file=sys.stderr, flush=True)
    server = AgentMCPServer(agents, name=args.name)
    if not args.http:
        server.serve("stdio", start=False).run()
        return 0
    if args.no_auth and args.host not in _LOOPBACK:
        raise UserError("--no-auth is only allowed on a loopback --host; anyone on the network could run your "
                        "agents")
    token = args.token or os.environ.get("KAIZEN_MCP_TOKEN")
    handle = server.serve("http", host=args.host, port=args.port, token=None if args.no_auth else token,
                          auth=not args.no_auth, start=False)
    handle.start()
    print(f"serving {list(server.agents)} at {handle.url}", file=sys.stderr)
    if handle.token and not token:  # a token we made up must be shown once, or nobody could connect
        print(f"bearer token: {handle.token}", file=sys.stderr)
    sys.stderr.flush()
    handle.run()
    return 0
