"""HTTP limits over real sockets: JSON nesting, body size, slow headers and slow bodies, on a uvicorn server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kaizen_lab.integrations._serve import ServedApp
from kaizen_lab.security.limits import LimitsMiddleware, json_depth_exceeds, parse_json


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the length of the body it received, or handles lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = json.dumps({"received": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
def server() -> Iterator[ServedApp]:
    app = LimitsMiddleware(echo, max_body=4096, body_timeout=0.5)
    with ServedApp(app, name="limits-test", header_timeout=0.5) as served:
        yield served


def test_depth_scan_ignores_brackets_inside_strings() -> None:
    assert json_depth_exceeds(b"[" * 65 + b"]" * 65)
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64)
    assert not json_depth_exceeds(json.dumps({"text": "[{" * 500, "quote": 'a \\" [[[' * 50}))
    assert parse_json(b"[" * 100_000 + b"]" * 100_000)[1] == "the JSON body nests deeper than 64 levels"
    assert parse_json(b'{"a": [1, {"b": null}]}') == ({"a": [1, {"b": None}]}, None)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_deeply_nested_json_is_400_not_500(server: ServedApp, body: bytes) -> None:
    app = LimitsMiddleware(echo, max_body=1 << 20)
    with ServedApp(app, name="limits-deep") as big:
        response = httpx.post(big.url + "/x", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nests deeper than 64" in response.json()["detail"][0]["msg"]


def test_malformed_json_is_400_and_good_json_passes(server: ServedApp) -> None:
    bad = httpx.post(server.url + "/x", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["detail"][0]["msg"]
    good = httpx.post(server.url + "/x", json={"a": [1, 2]})
    assert good.status_code == 200 and good.json() == {"received": len(b'{"a":[1,2]}')}


def test_body_over_the_limit_is_413_declared_or_streamed(server: ServedApp) -> None:
    assert httpx.post(server.url + "/x", content=b"x" * 5000).status_code == 413

    def chunks() -> Iterator[bytes]:  # no content-length: the limit is enforced while reading
        for _ in range(10):
            yield b"y" * 1000

    assert httpx.post(server.url + "/x", content=chunks()).status_code == 413


def _raw(server: ServedApp) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def test_client_that_never_finishes_its_headers_is_disconnected(server: ServedApp) -> None:
    sock = _raw(server)
    sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\n")  # ... and nothing more
    started = time.monotonic()
    assert sock.recv(1024) == b""  # closed by the server
    assert time.monotonic() - started < 4
    sock.close()


def test_client_that_sends_its_body_too_slowly_gets_408(server: ServedApp) -> None:
    sock = _raw(server)
    sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b"did not arrive within 0.5 s" in reply
    sock.close()


def test_keep_alive_connection_gets_the_header_deadline_again(server: ServedApp) -> None:
    sock = _raw(server)
    sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /x HTTP/1.1\r\n")  # a second request that stalls
    assert sock.recv(1024) == b""
    sock.close()


def test_agent_mcp_server_endpoint_refuses_deep_json_and_big_bodies() -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.mcp import AgentMCPServer

    agent = Agent("echoer", "text -> reply", model="test")
    with AgentMCPServer([agent]).serve("http") as handle:
        headers = {"Accept": "application/json, text/event-stream", "content-type": "application/json",
                   "Authorization": f"Bearer {handle.token}"}
        deep = httpx.post(handle.url, content=b"[" * 100_000 + b"]" * 100_000, headers=headers, timeout=30)
        assert deep.status_code == 400 and deep.json()["error"]["code"] == -32700
        huge = httpx.post(handle.url, content=b"x" * (2 << 20), headers=headers, timeout=30)
        assert huge.status_code == 413
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        assert httpx.post(handle.url, json=init, headers=headers).status_code == 200  # still reaches the SDK


def test_every_method_gets_the_limits(server: ServedApp) -> None:
    for method in ("DELETE", "PUT", "PATCH", "GET"):
        response = httpx.request(method, server.url + "/x", content=b"z" * 5000)
        assert response.status_code == 413, method
    assert httpx.get(server.url + "/x").json() == {"received": 0}
