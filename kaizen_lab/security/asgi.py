"""Close an HTTP app by default: a dependency-free ASGI middleware in front of any ASGI application.

Every HTTP request must authenticate (``Authorization: Bearer <JWT or API key>`` or ``X-API-Key``); otherwise
the answer is ``401`` with ``WWW-Authenticate: Bearer``. When a permission is required the principal must hold
it, otherwise ``403``. The authenticated ``AuthResult`` is put in ``scope["state"]["auth"]`` (Starlette's
``request.state.auth``) and the request runs inside ``acting_as`` so audit records name the caller. Used by the
MCP HTTP server and the deployment channels; it is plain ASGI, so it works with Starlette, FastAPI and Nexus.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from kaizen_lab.security.audit import acting_as
from kaizen_lab.security.auth import AuthResult
from kaizen_lab.security.manager import KaizenSecurityManager

__all__ = ["RequestCheck", "SecurityMiddleware", "check_request"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestCheck:
    """Outcome of checking one request: ``status`` 200 (go on), 401 (who are you?) or 403 (not allowed)."""

    status: int
    auth: AuthResult
    reason: str

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed."""
        return self.status == 200


def check_request(manager: KaizenSecurityManager, headers: Any, *, operation: str | None = None,
                  resource: str | None = None, client: str | None = None) -> RequestCheck:
    """Authenticate ``headers`` (a mapping or ``(name, value)`` pairs) and authorize the operation if given."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    lowered = {(k.decode("latin-1") if isinstance(k, bytes) else str(k)).lower():
               (v.decode("latin-1") if isinstance(v, bytes) else str(v)) for k, v in pairs}
    auth = manager.authenticate_headers(lowered, client=client)
    if not auth.ok:
        return RequestCheck(401, auth, auth.reason)
    if operation is not None and resource is not None:
        decision = manager.authorize_operation(auth, operation, resource)
        if not decision.allowed:
            return RequestCheck(403, auth, decision.reason)
    return RequestCheck(200, auth, "")


class SecurityMiddleware:
    """ASGI middleware refusing unauthenticated (401) and unauthorized (403) HTTP requests.

    Args:
        app: the ASGI application to protect.
        manager: the security manager that checks credentials and permissions.
        permission: ``(operation, resource)`` required for every request, or a function
            ``scope -> (operation, resource) | None`` (``None``: authentication only).
        public_paths: exact paths served without credentials (e.g. a health check).
        limits: put ``security.limits.LimitsMiddleware`` (body size, JSON depth, slow bodies) in front of
            ``app`` for authenticated requests; ``False`` when the app limits its input itself.
    """

    def __init__(self, app: ASGIApp, manager: KaizenSecurityManager, *,
                 permission: tuple[str, str] | Callable[[Scope], tuple[str, str] | None] | None = None,
                 public_paths: Iterable[str] = (), limits: bool = True) -> None:
        if limits:
            from kaizen_lab.security.limits import LimitsMiddleware

            app = LimitsMiddleware(app)
        self.app = app
        self.manager = manager
        self.permission = permission
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket") or scope.get("path") in self.public_paths:
            await self.app(scope, receive, send)
            return
        required = self.permission(scope) if callable(self.permission) else self.permission
        client = scope.get("client")
        check = check_request(self.manager, scope.get("headers") or [],
                              operation=required[0] if required else None,
                              resource=required[1] if required else None,
                              client=str(client[0]) if client else None)
        if not check.allowed:
            await self._refuse(scope, receive, send, check)
            return
        scope.setdefault("state", {})["auth"] = check.auth
        with acting_as(check.auth):
            await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, check: RequestCheck) -> None:
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 4401 if check.status == 401 else 4403,
                        "reason": check.reason[:120]})
            return
        error = "unauthorized" if check.status == 401 else "forbidden"
        body = json.dumps({"error": error, "detail": check.reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if check.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="kaizen-lab"'))
        await send({"type": "http.response.start", "status": check.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
