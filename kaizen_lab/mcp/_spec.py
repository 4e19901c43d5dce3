"""How to reach an MCP server: ``ServerSpec`` and ``server_spec`` (commands, URLs, config entries, handles)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kaizen_lab.errors import ConfigError

__all__ = ["ServerSpec", "Transport", "server_spec"]

Transport = Literal["stdio", "http", "inprocess"]


@dataclass(frozen=True)
class ServerSpec:
    """How to reach one MCP server. ``headers`` may hold a bearer token, so it is kept out of ``repr``."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    server: Any = field(default=None, repr=False, compare=False)
    #: the entry asks for OAuth (``"oauth": true``): the connection authorizes with ``MCPOAuth()`` unless its
    #: own ``oauth=`` option says more
    oauth: bool = False

    def key(self) -> tuple[Any, ...]:
        """Identity used to share one connection between agents and nodes."""
        if self.transport == "inprocess":
            return ("inprocess", id(self.server))
        return (self.transport, self.command, self.args, self.cwd, self.url,
                tuple(sorted((self.env or {}).items())), tuple(sorted(self.headers.items())))

    @property
    def target(self) -> str:
        """Where the server is, without secrets (for summaries and messages)."""
        if self.transport == "stdio":
            return shlex.join([self.command or "", *self.args])
        if self.transport == "http":
            return self.url or ""
        return f"in-process {type(self.server).__name__}"


def _name_from_command(argv: list[str]) -> str:
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1].split(".")[-1]
    for part in reversed(argv):
        if not part.startswith("-"):
            base = os.path.basename(part)
            return base[:-3] if base.endswith(".py") else base
    return "server"


def _name_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "server")


def server_spec(value: Any, name: str | None = None) -> ServerSpec:
    """Turn a command, a URL, a config entry, a server handle or an in-process server into a ``ServerSpec``.

    Accepted: ``"python -m mcp_server_time"`` or ``["python", "-m", "mcp_server_time"]`` (stdio);
    ``"http://127.0.0.1:8765/mcp"`` (streamable HTTP); a dict in the Claude Desktop / Cursor / VS Code shape
    (``{"command", "args", "env", "cwd"}`` or ``{"url", "headers", "token", "token_env", "oauth"}``); the handle returned
    by ``Agent.expose_as_mcp_server``; an ``MCPServer`` object (in-process, for tests).
    """
    if isinstance(value, ServerSpec):
        return value
    spec_fn = getattr(value, "client_spec", None)
    if callable(spec_fn):  # a server handle of ours
        return server_spec(spec_fn(), name)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ConfigError("an MCP server can't be an empty string; give a command or an http(s) URL")
        if text.startswith(("http://", "https://")):
            return ServerSpec(name or _name_from_url(text), "http", url=text)
        return server_spec(shlex.split(text), name)
    if isinstance(value, list | tuple):
        argv = [str(a) for a in value]
        if not argv:
            raise ConfigError("an MCP server command can't be empty; e.g. ['python', '-m', 'mcp_server_time']")
        return ServerSpec(name or _name_from_command(argv), "stdio", command=argv[0], args=tuple(argv[1:]))
    if isinstance(value, Mapping):
        return _spec_from_entry(dict(value), name)
    if type(value).__name__ in ("MCPServer", "Server") or hasattr(value, "_lowlevel_server"):
        return ServerSpec(name or getattr(value, "name", None) or "inprocess", "inprocess", server=value)
    raise ConfigError(f"can't connect to an MCP server given as {type(value).__name__}; pass a command string, "
                      "an http(s) URL, a config dict ({'command': ..., 'args': [...]} or {'url': ...}) or an "
                      "MCPServer object")


def _spec_from_entry(entry: dict[str, Any], name: str | None) -> ServerSpec:
    name = name or entry.get("name")
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    if entry.get("url"):
        if kind in ("sse",):
            raise ConfigError(f"MCP server {name or entry['url']!r} uses the legacy SSE transport; kaizen-lab "
                              "speaks streamable HTTP — point it at the server's streamable HTTP endpoint",
                              path="type", value=kind, allowed="stdio, http, streamable-http")
        headers = {str(k): str(v) for k, v in dict(entry.get("headers") or {}).items()}
        token = entry.get("token")
        if token is None and entry.get("token_env"):
            env_name = str(entry["token_env"])
            token = os.environ.get(env_name)
            if token is None:
                raise ConfigError(f"MCP server {name or entry['url']!r} reads its token from ${env_name}, which "
                                  f"is not set; export {env_name}=... or put the token in the entry",
                                  path="token_env", value=env_name)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = str(entry["url"])
        oauth = entry.get("oauth", False)
        if not isinstance(oauth, bool):
            raise ConfigError(f"MCP server {name or url!r}: 'oauth' is true or false (for scopes, a client id and "
                              "the rest, pass oauth=MCPOAuth(...) when connecting)", path="oauth", value=oauth)
        return ServerSpec(name or _name_from_url(url), "http", url=url, headers=headers, oauth=oauth)
    if entry.get("command"):
        command = entry["command"]
        argv = shlex.split(command) if isinstance(command, str) and not entry.get("args") and " " in command \
            else [str(command)]
        argv += [str(a) for a in entry.get("args") or ()]
        env = entry.get("env")
        return ServerSpec(name or _name_from_command(argv), "stdio", command=argv[0], args=tuple(argv[1:]),
                          env={str(k): str(v) for k, v in env.items()} if env else None,
                          cwd=str(entry["cwd"]) if entry.get("cwd") else None)
    raise ConfigError(f"MCP server entry {name or entry!r} has neither 'command' nor 'url'; e.g. "
                      "{'command': 'python', 'args': ['-m', 'mcp_server_time']} or {'url': 'http://127.0.0.1:8765/mcp'}",
                      path=name or "", value=entry)
