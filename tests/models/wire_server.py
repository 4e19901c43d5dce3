"""A local HTTP server speaking the OpenAI chat-completions and Anthropic messages wire formats.

Started in-process on 127.0.0.1 (a free port) in a thread, so the real ``openai``/``anthropic`` SDK clients can
be driven over real HTTP without a network. Each test scripts the replies it needs with ``server.script(...)``;
with nothing scripted the server answers like a model would (echo of the last user message, a schema-valid
JSON object when a schema was requested, SSE when ``stream`` is true). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kaizen_lab.models.testing import example_from_schema

__all__ = [
    "Recorded",
    "Reply",
    "WireServer",
    "anthropic_events",
    "anthropic_message",
    "error",
    "malformed",
    "openai_chunks",
    "openai_completion",
]


@dataclass
class Reply:
    """One scripted HTTP reply.

    ``body``: a JSON-able value (sent as JSON) or ``str``/``bytes`` (sent verbatim). ``events``: SSE events, each a
    dict (``data:`` JSON), a ``(event_name, dict)`` pair, or a raw string such as ``"[DONE]"``. ``error``: a
    message sent in the error envelope of whichever API was called. ``delay``: seconds to wait before answering.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[Any] | None = None
    error: str | None = None
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Script = Reply | Callable[[Recorded], Reply]


# ----------------------------------------------------------------------------------------------- builders

def openai_completion(text: str | None = "hello", *, tool_calls: Iterable[tuple[str, dict[str, Any]]] = (),
                      model: str = "m", usage: tuple[int, int] = (11, 7), finish_reason: str | None = None,
                      raw_arguments: str | None = None,
                      logprobs: Iterable[tuple[str, float]] | None = None) -> dict[str, Any]:
    """A chat.completion body; ``tool_calls`` are ``(name, arguments)`` pairs; ``logprobs`` ``(token,
    logprob)`` pairs spelling ``text`` (sent with their UTF-8 bytes and the token itself as the only
    alternative)."""
    calls = [{"id": f"call_{i}", "type": "function",
              "function": {"name": name, "arguments": raw_arguments if raw_arguments is not None
                           else json.dumps(args)}}
             for i, (name, args) in enumerate(tool_calls)]
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {"index": 0, "message": message,
                              "finish_reason": finish_reason or ("tool_calls" if calls else "stop")}
    if logprobs is not None:
        choice["logprobs"] = {"content": [
            {"token": t, "logprob": lp, "bytes": list(t.encode()),
             "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}]} for t, lp in logprobs],
            "refusal": None}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}


def openai_chunks(deltas: Iterable[str], *, model: str = "m", usage: tuple[int, int] | None = (11, 7),
                  done: bool = True) -> list[Any]:
    """SSE events of a streamed chat completion."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    events: list[Any] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                               "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]} for d in deltas]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage is not None:
        events.append({**base, "choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                                       "total_tokens": sum(usage)}})
    if done:
        events.append("[DONE]")
    return events


def anthropic_message(text: str | None = "hello", *, tool_uses: Iterable[tuple[str, dict[str, Any]]] = (),
                      model: str = "m", usage: tuple[int, int] = (13, 5),
                      stop_reason: str | None = None) -> dict[str, Any]:
    """A Messages API body; ``tool_uses`` are ``(name, input)`` pairs."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text is not None else []
    uses = list(tool_uses)
    content += [{"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args}
                for i, (name, args) in enumerate(uses)]
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason or ("tool_use" if uses else "end_turn"), "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


def anthropic_events(deltas: Iterable[str], *, model: str = "m", usage: tuple[int, int] = (13, 5),
                     tool: str | None = None) -> list[Any]:
    """SSE events of a streamed message: text deltas, or ``input_json_delta`` pieces of a ``tool`` call."""
    start = {"type": "message_start", "message": {**anthropic_message(None, model=model, usage=(usage[0], 1)),
                                                  "stop_reason": None}}
    block = ({"type": "tool_use", "id": "toolu_0", "name": tool, "input": {}} if tool
             else {"type": "text", "text": ""})
    events: list[Any] = [("message_start", start),
                         ("content_block_start", {"type": "content_block_start", "index": 0,
                                                  "content_block": block})]
    for d in deltas:
        delta = ({"type": "input_json_delta", "partial_json": d} if tool else {"type": "text_delta", "text": d})
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": "tool_use" if tool else "end_turn",
                                            "stop_sequence": None},
                                  "usage": {"output_tokens": usage[1]}}),
               ("message_stop", {"type": "message_stop"})]
    return events


def error(status: int, message: str = "boom", *, retry_after: str | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    """An API error in the called API's envelope, optionally with ``Retry-After``."""
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["retry-after"] = retry_after
    return Reply(status=status, error=message, headers=all_headers)


def malformed(status: int = 200) -> Reply:
    """A body that claims to be JSON and is not."""
    return Reply(status=status, body='{"id": "chatcmpl-1", "choices": [', content_type="application/json")


# ----------------------------------------------------------------------------------------------- defaults

def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            texts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
            if texts:
                return " ".join(texts)
    return ""


def default_reply(rec: Recorded) -> Reply:
    """What the server answers with nothing scripted: a plausible model answer in the called API's format."""
    body = rec.body if isinstance(rec.body, dict) else {}
    model = body.get("model", "m")
    if rec.path.endswith("/chat/completions"):
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            text = json.dumps(example_from_schema(fmt["json_schema"]["schema"]))
        else:
            text = f"echo: {_last_user_text(body)}"
        if body.get("stream"):
            half = len(text) // 2
            return Reply(events=openai_chunks([text[:half], text[half:]], model=model))
        return Reply(body=openai_completion(text, model=model))
    if rec.path.endswith("/messages"):
        fmt = (body.get("output_config") or {}).get("format") or {}
        forced = (body.get("tool_choice") or {}).get("name")
        if forced:
            tool = next(t for t in body.get("tools", []) if t["name"] == forced)
            args = example_from_schema(tool["input_schema"])
            if body.get("stream"):
                blob = json.dumps(args)
                return Reply(events=anthropic_events([blob[:5], blob[5:]], model=model, tool=forced))
            return Reply(body=anthropic_message(None, tool_uses=[(forced, args)], model=model))
        text = (json.dumps(example_from_schema(fmt["schema"])) if fmt.get("type") == "json_schema"
                else f"echo: {_last_user_text(body)}")
        if body.get("stream"):
            half = len(text) // 2
            return Reply(events=anthropic_events([text[:half], text[half:]], model=model))
        return Reply(body=anthropic_message(text, model=model))
    return Reply(status=404, error=f"no route {rec.path}")


# ----------------------------------------------------------------------------------------------- server

class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        wire = self.server.wire
        reply = wire._next(rec)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self._send(rec, reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _send(self, rec: Recorded, reply: Reply) -> None:
        if reply.events is not None:
            self.send_response(reply.status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            for event in reply.events:
                if isinstance(event, str):
                    chunk = f"data: {event}\n\n"
                elif isinstance(event, tuple):
                    chunk = f"event: {event[0]}\ndata: {json.dumps(event[1])}\n\n"
                else:
                    chunk = f"data: {json.dumps(event)}\n\n"
                self.wfile.write(chunk.encode())
                self.wfile.flush()
            return
        if reply.error is not None:
            if rec.path.endswith("/messages"):
                kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(reply.status, "api_error")
                payload: Any = {"type": "error", "error": {"type": kind, "message": reply.error}}
            else:
                payload = {"error": {"message": reply.error, "type": "server_error" if reply.status >= 500
                                     else "invalid_request_error", "code": None, "param": None}}
            data = json.dumps(payload).encode()
        elif isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(data)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    wire: WireServer


class WireServer:
    """The scriptable server. Use as a context manager or call ``start()``/``stop()``."""

    def __init__(self) -> None:
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> WireServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.wire = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="wire-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> WireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        return self.url

    # -- scripting
    def script(self, *replies: Script) -> WireServer:
        """Queue replies (or functions of the recorded request returning one) for the next requests."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _next(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            item = self._queue.popleft() if self._queue else None
        if item is None:
            return default_reply(rec)
        return item(rec) if callable(item) else item

    @property
    def last(self) -> Recorded:
        """The most recent request."""
        return self.requests[-1]
