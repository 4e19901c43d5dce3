"""The ASGI security middleware in front of a real HTTP server (uvicorn on loopback, httpx client)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kaizen_lab.security import KaizenSecurityManager
from kaizen_lab.security.asgi import SecurityMiddleware, check_request
from kaizen_lab.security.audit import current_principal

SECRET = "a" * 40


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the caller's principal as seen by the app and by the audit context."""
    body = json.dumps({"principal": scope["state"]["auth"].principal, "acting_as": current_principal()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def health_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, KaizenSecurityManager]]:
    import uvicorn

    sec = KaizenSecurityManager({"rbac_enabled": True, "audit_logging": True, "audit_path": str(tmp_path / "a.db")},
                                jwt_secret=SECRET)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await (health_app if scope.get("path") == "/health" else echo_app)(scope, receive, send)

    def permission(scope: Any) -> tuple[str, str] | None:
        path = scope["path"]
        return ("execute", "agent" + path.removeprefix("/agents")) if path.startswith("/agents/") else None

    protected = SecurityMiddleware(app, sec, permission=permission, public_paths=["/health"])
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(protected, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}", sec
    finally:
        srv.should_exit = True
        thread.join(10)
        sec.close()


def test_no_credentials_is_401_with_challenge(server: Any) -> None:
    url, _sec = server
    response = httpx.get(f"{url}/agents/qa")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "missing Authorization header" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer kz_000000000000_" + "x" * 43, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
                                    "Basic YWxpY2U6cHc="])
def test_bad_credentials_are_401(server: Any, header: str) -> None:
    url, _sec = server
    assert httpx.get(f"{url}/agents/qa", headers={"Authorization": header}).status_code == 401


def test_expired_token_is_401(server: Any) -> None:
    url, sec = server
    token = sec.jwt.issue("bob", roles=["operator"], ttl=1)
    sec.jwt._clock = lambda: time.time() + 3600  # the verifier's clock moves on; the token is long expired
    response = httpx.get(f"{url}/agents/qa", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_authenticated_but_not_permitted_is_403(server: Any) -> None:
    url, sec = server
    key = sec.create_api_key("viewer-bot", ["viewer"])
    response = httpx.get(f"{url}/agents/qa", headers={"X-API-Key": key})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"


def test_permitted_request_reaches_the_app_as_the_principal(server: Any) -> None:
    url, sec = server
    token = sec.issue_token("carol", roles=["operator"])
    response = httpx.get(f"{url}/agents/qa", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"principal": "carol", "acting_as": "carol"}
    results = [(r.user_id, r.operation, r.resource, r.result) for r in sec.audit.records()]
    assert results[-2:] == [("carol", "authenticate", "auth/jwt", "success"),
                            ("carol", "execute", "agent/qa", "allowed")]


def test_public_path_needs_no_credentials(server: Any) -> None:
    url, _sec = server
    response = httpx.get(f"{url}/health")
    assert (response.status_code, response.text) == (200, "ok")


def test_check_request_on_raw_asgi_headers() -> None:
    sec = KaizenSecurityManager(jwt_secret=SECRET)
    key = sec.create_api_key("svc")
    assert check_request(sec, [(b"x-api-key", key.encode())]).status == 200
    assert check_request(sec, [(b"accept", b"*/*")]).status == 401


def test_websocket_without_credentials_is_closed() -> None:
    import asyncio

    sec = KaizenSecurityManager(jwt_secret=SECRET)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    scope = {"type": "websocket", "path": "/ws", "headers": [], "client": ("127.0.0.1", 5000)}
    asyncio.run(SecurityMiddleware(never, sec)(scope, receive, send))
    assert sent[0]["type"] == "websocket.close" and sent[0]["code"] == 4401
