"""OAuth 2.1 for HTTP MCP servers that ask for it, on the ``mcp`` SDK's ``OAuthClientProvider``.

The SDK does the protocol: protected-resource and authorization-server metadata discovery, dynamic client
registration (or a pre-registered client, or a client-metadata URL), PKCE, scope step-up and token refresh.
What is left to kaizen-lab is where the user's consent happens:

- ``authorize="browser"`` (default): the authorization URL opens in the browser (and is shown in the running
  cell), and the redirect lands on a one-shot listener on ``127.0.0.1:redirect_port``;
- ``authorize="follow"``: the client fetches the authorization URL itself and takes the code from its redirect,
  for authorization servers that approve without a person (test servers, trusted internal ones);
- a function ``authorize(url) -> (code, state)`` for anything else.

Tokens and client credentials stay in memory (or in the ``storage`` given), never in events, traces or reprs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from kaizen_lab.errors import MCPError, UserError

__all__ = ["MCPOAuth"]

Authorize = Literal["browser", "follow"] | Callable[[str], Any]


class _MemoryStorage:
    """Tokens and client registration of one connection, in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client_info: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client_info

    async def set_client_info(self, client_info: Any) -> None:
        self.client_info = client_info


@dataclass
class MCPOAuth:
    """How a connection authorizes with an OAuth-protected MCP server: ``connect(url, oauth=MCPOAuth(...))``
    (``oauth=True`` takes the defaults).

    Args:
        client_name: shown by the authorization server when it asks for consent.
        scopes: the scopes to ask for (space-separated); by default the server's challenge or metadata decides.
        client_id: a client registered beforehand (no dynamic registration then).
        client_secret: its secret, if it has one (sent with HTTP basic auth).
        client_metadata_url: an HTTPS URL of this client's metadata document, used as its ``client_id`` where the
            server supports client ID metadata documents.
        redirect_port: the loopback port the browser is sent back to (``http://127.0.0.1:PORT/callback``).
        authorize: ``"browser"``, ``"follow"`` or ``fn(url) -> (code, state)`` (sync or async).
        storage: a ``TokenStorage`` (``get_tokens``/``set_tokens``/``get_client_info``/``set_client_info``)
            to keep tokens beyond the connection; in memory by default.
        timeout: seconds to wait for the user's consent.
    """

    client_name: str = "kaizen-lab"
    scopes: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_metadata_url: str | None = None
    redirect_port: int = 33418
    authorize: Authorize = "browser"
    storage: Any = field(default=None, repr=False)
    timeout: float = 300.0

    def __post_init__(self) -> None:
        if not (isinstance(self.authorize, str) and self.authorize in ("browser", "follow")) \
                and not callable(self.authorize):
            raise UserError(f"MCPOAuth(authorize={self.authorize!r}): use 'browser', 'follow' or a function "
                            "url -> (code, state)")
        if not 0 < int(self.redirect_port) < 65536:
            raise UserError(f"MCPOAuth(redirect_port={self.redirect_port}): give a port between 1 and 65535")

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.redirect_port}/callback"

    def provider(self, server_url: str, *, show: Callable[[Any], None] | None = None) -> Any:
        """The SDK's ``OAuthClientProvider`` (an ``httpx`` auth flow) for ``server_url``."""
        from mcp.client.auth import OAuthClientProvider
        from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata
        from pydantic import AnyUrl

        storage = self.storage if self.storage is not None else _MemoryStorage()
        if self.client_id and isinstance(storage, _MemoryStorage):
            storage.client_info = OAuthClientInformationFull(
                client_id=self.client_id, client_secret=self.client_secret, redirect_uris=[AnyUrl(self.redirect_uri)],
                token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none")
        metadata = OAuthClientMetadata(client_name=self.client_name, redirect_uris=[AnyUrl(self.redirect_uri)],
                                       grant_types=["authorization_code", "refresh_token"], response_types=["code"],
                                       scope=self.scopes, token_endpoint_auth_method="client_secret_post")
        flow = _Consent(self, show)
        return OAuthClientProvider(server_url, metadata, storage, redirect_handler=flow.redirect,
                                   callback_handler=flow.callback, client_metadata_url=self.client_metadata_url)


class _Consent:
    """One authorization at a time: ``redirect(url)`` starts it, ``callback()`` returns the code."""

    def __init__(self, options: MCPOAuth, show: Callable[[Any], None] | None) -> None:
        self.options = options
        self.show = show
        self.result: asyncio.Future[tuple[str, str | None]] | None = None
        self.server: asyncio.Server | None = None

    async def redirect(self, url: str) -> None:
        self.result = asyncio.get_running_loop().create_future()
        how = self.options.authorize
        if how == "follow":
            await self._follow(url)
        elif how == "browser":
            await self._listen()
            self._open(url)
        else:
            assert callable(how)
            answer = how(url)
            if isinstance(answer, Awaitable):
                answer = await answer
            code, state = answer
            self.result.set_result((str(code), None if state is None else str(state)))

    async def callback(self) -> Any:
        from mcp.shared.auth import AuthorizationCodeResult

        if self.result is None:
            raise MCPError("the OAuth flow asked for a code before sending anyone to authorize")
        try:
            code, state = await asyncio.wait_for(self.result, self.options.timeout)
        except TimeoutError:
            raise MCPError(f"no OAuth authorization within {self.options.timeout}s: open the authorization URL "
                           "shown and approve, or raise MCPOAuth(timeout=...)") from None
        finally:
            if self.server is not None:
                self.server.close()
                self.server = None
        return AuthorizationCodeResult(code=code, state=state)

    # -- the two built-in ways ---------------------------------------------------------------------------
    async def _follow(self, url: str) -> None:
        import httpx2

        assert self.result is not None
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30.0) as http:
            response = await http.get(url)
        location = response.headers.get("location", "")
        found = _code_from(location)
        if response.status_code not in (301, 302, 303, 307, 308) or found is None:
            raise MCPError(f"authorize='follow': the authorization server answered HTTP {response.status_code} "
                           "without redirecting back with a code; it wants a person: use authorize='browser'")
        self.result.set_result(found)

    async def _listen(self) -> None:
        assert self.result is not None
        result = self.result

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await asyncio.wait_for(reader.readline(), 10.0)  # the request line only: no body is read
                target = line.decode("latin-1").split(" ")[1] if line.count(b" ") >= 2 else ""
                found = _code_from(target) if urlsplit(target).path == "/callback" else None
                ok = found is not None and not result.done()
                body = b"Authorized: you can close this tab." if ok else b"No authorization code here."
                writer.write(b"HTTP/1.1 " + (b"200 OK" if ok else b"400 Bad Request") +
                             b"\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                if ok and found is not None:
                    result.set_result(found)
            except (TimeoutError, OSError, IndexError):
                pass
            finally:
                writer.close()

        try:
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.options.redirect_port)
        except OSError as exc:
            raise MCPError(f"cannot listen for the OAuth redirect on 127.0.0.1:{self.options.redirect_port} "
                           f"({exc}); choose another MCPOAuth(redirect_port=...)") from None

    def _open(self, url: str) -> None:
        import webbrowser

        if self.show is not None:
            with contextlib.suppress(Exception):
                self.show(_Link(url))
        # on a worker thread, not awaited: some browser commands only return when the browser closes, and the
        # redirect must reach the listener on this loop meanwhile
        asyncio.get_running_loop().run_in_executor(None, _quietly_open, webbrowser.open, url)


class _Link:
    """The authorization URL, shown in the running cell (a link in a notebook, the URL in a terminal)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"Open this URL to authorize the MCP server: {self.url}"

    def _repr_html_(self) -> str:
        import html

        return (f'MCP server authorization: <a href="{html.escape(self.url, quote=True)}" target="_blank">open '
                "this link and approve</a>")


def _quietly_open(opener: Callable[[str], Any], url: str) -> None:
    with contextlib.suppress(Exception):  # no browser here: the link shown in the cell remains
        opener(url)


def _code_from(url: str) -> tuple[str, str | None] | None:
    query = parse_qs(urlsplit(url).query)
    codes, states = query.get("code") or [], query.get("state") or []
    if not codes or not codes[0]:
        return None
    return codes[0], states[0] if states else None
