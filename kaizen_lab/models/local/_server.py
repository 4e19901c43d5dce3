"""An OpenAI-compatible HTTP endpoint for the embedded model: ``kaizen-lab model serve`` and ``serve()``.

Other tools (the ``openai`` client, DSPy, LangChain, an MCP client's sampling handler) speak Chat Completions;
this server answers it with ``LocalModel``: ``GET /v1/models`` and ``POST /v1/chat/completions`` (plain, or
``stream: true`` as server-sent events ending in ``data: [DONE]``; ``response_format`` ``json_schema`` and
``json_object`` go through the constrained decoder, so the answer always validates).

Secure by default: it binds 127.0.0.1; bound to any other address it refuses to start without a bearer token
(compared in constant time). Bodies are limited in size, JSON depth and arrival time, and request headers in
arrival time (``security.limits``). Without a token, POST bodies must be JSON and the ``Host`` header must be a
loopback name, so a web page in the user's browser cannot drive the model (no form posts, no DNS rebinding).

Requests are validated with pydantic; anything the engine cannot honour (``n > 1``, tool calls, penalties,
images) is a 400 in OpenAI's error shape naming the parameter, never silently ignored.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kaizen_lab.errors import KaizenTimeoutError, UserError
from kaizen_lab.messages import Message
from kaizen_lab.models.base import ModelSettings

__all__ = ["DEFAULT_PORT", "ChatRequest", "ModelServer", "build_app", "cli_command", "serve"]

DEFAULT_PORT = 8080
#: request bodies above this many bytes are refused (413): long conversations fit, uploads don't
MAX_BODY = 4 << 20
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_MIN_TOKEN = 16


# -- the request -----------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    # Unknown keys are ignored (clients send their own extras, e.g. ``user``); known ones are type-checked
    # strictly: "5" is not a number of tokens.
    model_config = ConfigDict(extra="ignore", strict=True)


class _TextPart(_Strict):
    type: Literal["text"]
    text: str


class _ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_TextPart] | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _JsonSchema(_Strict):
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    strict: bool | None = None
    description: str | None = None


class _ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchema | None = None


class _StreamOptions(_Strict):
    include_usage: bool = False


class ChatRequest(_Strict):
    """The subset of Chat Completions the embedded model honours (everything else in it is refused)."""

    model: str
    messages: list[_ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: _ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None


class BadRequest(Exception):
    """A request the endpoint refuses: HTTP ``status`` and OpenAI's error fields."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = message, param, code, status, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def _param(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("str", "list[_TextPart]", "function-after"):  # union branch names from pydantic
            out += f".{part}" if out else str(part)
    return out


def parse_request(body: Any) -> ChatRequest:
    """Validate a decoded JSON body; raises ``BadRequest`` naming the first offending parameter."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        req = ChatRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param(first["loc"])
        raise BadRequest(f"invalid value for '{param}': {first['msg']}", param=param or None,
                         code="invalid_value") from None
    if req.tools:
        raise BadRequest("the embedded model does not call tools; drop 'tools' or use a hosted or Ollama model",
                         param="tools")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(req, name):
            raise BadRequest(f"'{name}' is not supported by the embedded model; leave it out or 0", param=name)
    if req.logit_bias:
        raise BadRequest("'logit_bias' is not supported by the embedded model", param="logit_bias")
    if req.top_logprobs and not req.logprobs:
        raise BadRequest("'top_logprobs' needs 'logprobs': true", param="top_logprobs")
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if len(stops) > 4 or any(not s for s in stops):
        raise BadRequest("'stop' takes up to 4 non-empty strings", param="stop")
    for i, message in enumerate(req.messages):
        if message.role in ("user", "system", "developer", "tool") and message.content is None:
            raise BadRequest(f"messages[{i}] ({message.role}) needs content", param=f"messages[{i}].content")
    return req


def to_messages(req: ChatRequest) -> list[Message]:
    """The conversation in kaizen-lab's vocabulary (``developer`` is the newer name of ``system``)."""
    out: list[Message] = []
    for m in req.messages:
        content = m.content if isinstance(m.content, str) else "".join(p.text for p in m.content or [])
        role = "system" if m.role == "developer" else m.role
        out.append(Message(role, content, tool_call_id=m.tool_call_id, name=m.name))  # type: ignore[arg-type]
    return out


def settings_for(req: ChatRequest, *, timeout: float | None) -> ModelSettings:
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    return ModelSettings(temperature=req.temperature, max_tokens=req.max_completion_tokens or req.max_tokens,
                         top_p=req.top_p, seed=req.seed, stop=tuple(stops) or None, timeout=timeout,
                         logprobs=bool(req.logprobs), top_logprobs=req.top_logprobs if req.logprobs else None)


def schema_for(req: ChatRequest) -> dict[str, Any] | None:
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    if fmt.json_schema is None:
        raise BadRequest("response_format of type 'json_schema' needs a 'json_schema' object with a 'schema'",
                         param="response_format.json_schema")
    return fmt.json_schema.schema_


# -- the answer ------------------------------------------------------------------------------------------------


def _token_entry(tokenizer: Any, token: int, logprob: float) -> dict[str, Any]:
    raw = tokenizer.token_bytes(token)
    return {"token": raw.decode("utf-8", errors="replace"), "logprob": float(logprob), "bytes": list(raw)}


def logprob_entries(tokenizer: Any, step: Any, top: int) -> list[dict[str, Any]]:
    """OpenAI ``logprobs.content`` items for the tokens of one engine step (``GenerationStep``: the chosen
    tokens' log-probabilities, and the best ``(token, logprob)`` alternatives when they were asked for)."""
    alternatives = step.top_logprobs or [None] * len(step.tokens)
    out = []
    for token, logprob, alts in zip(step.tokens, step.logprobs, alternatives, strict=True):
        entry = _token_entry(tokenizer, token, logprob)
        entry["top_logprobs"] = [_token_entry(tokenizer, t, lp) for t, lp in (alts or [])[:top]] if top else []
        out.append(entry)
    return out


class _Completion:
    """Shared fields of one answer's JSON (the same id in every streamed chunk)."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def chunk(self, delta: dict[str, Any], *, finish: str | None = None, logprobs: Any = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return self._event({"choices": [choice]})

    def _event(self, fields: dict[str, Any]) -> str:
        data = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "system_fingerprint": None, **fields}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _Endpoint:
    """The request handlers, bound to one ``LocalModel``."""

    def __init__(self, model: Any, *, timeout: float | None) -> None:
        self.model = model
        self.timeout = timeout
        self.created = int(time.time())

    @property
    def names(self) -> tuple[str, ...]:
        return (self.model.name, "local", self.model.label)

    def model_card(self) -> dict[str, Any]:
        return {"id": self.model.name, "object": "model", "created": self.created, "owned_by": "kaizen-lab"}

    def check_model(self, name: str) -> None:
        if name not in self.names:
            raise BadRequest(f"the model {name!r} does not exist here; this server answers with "
                             f"{self.model.name!r} (GET /v1/models)", param="model", code="model_not_found",
                             status=404)

    async def prepare(self, req: ChatRequest) -> tuple[list[Message], ModelSettings, dict[str, Any] | None, Any]:
        import asyncio

        from kaizen_lab.models.local import _worker

        self.check_model(req.model)
        messages, settings, schema = to_messages(req), settings_for(req, timeout=self.timeout), schema_for(req)
        loaded = await asyncio.get_running_loop().run_in_executor(_worker(), self.model.load)
        if schema is not None:
            try:
                # compiled (and cached) now, so a bad schema is blamed on response_format before any token
                await asyncio.get_running_loop().run_in_executor(
                    _worker(), loaded.grammar, json.dumps(schema, sort_keys=True), schema)
            except UserError as exc:
                raise BadRequest(exc.message, param="response_format") from None
        return messages, settings, schema, loaded

    async def steps(self, req: ChatRequest) -> AsyncGenerator[Any, None]:
        messages, settings, schema, _ = await self.prepare(req)
        try:
            async for step in self.model.stream_steps(messages, settings=settings, output_schema=schema):
                yield step
        except KaizenTimeoutError as exc:
            raise BadRequest(exc.message, code="timeout", status=504, kind="server_error") from None
        except UserError as exc:
            code = "context_length_exceeded" if "context" in exc.message else None
            raise BadRequest(exc.message, param="messages" if code else None, code=code) from None

    async def complete(self, req: ChatRequest) -> dict[str, Any]:
        text: list[str] = []
        content: list[dict[str, Any]] = []
        produced, prompt, finish = 0, 0, "stop"
        tokenizer = None
        async for step in self.steps(req):
            text.append(step.text)
            produced += len(step.tokens)
            prompt = step.prompt_tokens
            if step.finish_reason is not None:
                finish = step.finish_reason
            if req.logprobs and step.tokens:
                tokenizer = tokenizer or self.model.load().tokenizer  # loaded by now: a cache lookup
                content.extend(logprob_entries(tokenizer, step.step, req.top_logprobs or 0))
        answer = "".join(text)
        if content:  # tokens past a stop sequence were generated but are not part of the answer
            keep, at, size = 0, 0, len(answer.encode())
            while keep < len(content) and at < size:
                at += len(content[keep]["bytes"])
                keep += 1
            content = content[:keep]
        out = _Completion(self.model.name)
        return {"id": out.id, "object": "chat.completion", "created": out.created, "model": out.model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer,
                                                     "refusal": None},
                             "logprobs": {"content": content, "refusal": None} if req.logprobs else None,
                             "finish_reason": finish}],
                "usage": _usage(prompt, produced)}

    async def stream(self, req: ChatRequest, steps: AsyncGenerator[Any, None], step: Any) -> AsyncIterator[str]:
        """SSE lines for an answer whose first ``step`` the caller already pulled from ``steps`` (so an error
        before any token is still a plain HTTP error)."""
        tokenizer = self.model.load().tokenizer if req.logprobs else None
        out = _Completion(self.model.name)
        yield out.chunk({"role": "assistant", "content": ""})
        produced = prompt = 0
        try:
            while step is not None:
                produced += len(step.tokens)
                prompt = step.prompt_tokens
                logprobs = None
                if tokenizer is not None and step.tokens:
                    logprobs = {"content": logprob_entries(tokenizer, step.step, req.top_logprobs or 0),
                                "refusal": None}
                if step.finish_reason is not None:
                    if step.text:
                        yield out.chunk({"content": step.text})
                    yield out.chunk({}, finish=step.finish_reason)
                elif step.text or logprobs:
                    yield out.chunk({"content": step.text}, logprobs=logprobs)
                step = await anext(steps, None)
        except Exception as exc:  # mid-stream: the client's SDK raises on an event carrying "error"
            problem = exc if isinstance(exc, BadRequest) else BadRequest(
                f"the model failed: {type(exc).__name__}: {exc}", status=500, kind="server_error")
            yield f"data: {json.dumps(problem.body())}\n\n"
            return
        finally:
            await steps.aclose()
        if req.stream_options is not None and req.stream_options.include_usage:
            yield out._event({"choices": [], "usage": _usage(prompt, produced)})
        yield "data: [DONE]\n\n"


# -- the ASGI app ----------------------------------------------------------------------------------------------


def _error_response(exc: BadRequest) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(exc.body(), status_code=exc.status)


class _Guard:
    """Bearer token (constant-time compare) or, without one, loopback ``Host`` names only."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}
        problem: BadRequest | None = None
        if self._token is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
                problem = BadRequest("missing or wrong API key: send 'Authorization: Bearer <token>' with the "
                                     "token the server was started with", code="invalid_api_key", status=401)
        else:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in _LOOPBACK_HOSTS:
                problem = BadRequest(f"Host {host!r} is not this machine's loopback name; start the server with "
                                     "a token to serve other names", code="host_not_allowed", status=403)
            elif scope["method"] == "POST" and "json" not in headers.get("content-type", ""):
                problem = BadRequest("send the body as JSON with 'Content-Type: application/json'",
                                     code="unsupported_media_type", status=415)
        if problem is not None:
            from kaizen_lab.security.limits import respond_json

            extra = [(b"www-authenticate", b'Bearer realm="kaizen-lab"')] if problem.status == 401 else []
            await respond_json(send, problem.status, problem.body(), extra)
            return
        await self.app(scope, receive, send)


def _limits(app: Any, max_body: int) -> Any:
    from kaizen_lab.security.limits import LimitsMiddleware, respond_json

    class OpenAILimits(LimitsMiddleware):
        """The shared body limits, with refusals in OpenAI's error shape."""

        async def _refuse(self, send: Any, status: int, message: str) -> None:
            code = {400: "invalid_json", 408: "timeout", 413: "request_too_large"}.get(status)
            await respond_json(send, status, BadRequest(message, code=code, status=status).body())

    return OpenAILimits(app, max_body=max_body)


def build_app(model: Any, *, token: str | None = None, timeout: float | None = 300.0,
              max_body: int = MAX_BODY) -> Any:
    """The ASGI app serving ``model`` (a ``LocalModel``): routes, then limits, then the token/host guard."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    endpoint = _Endpoint(model, timeout=timeout)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [endpoint.model_card()]})

    async def one_model(request: Request) -> Response:
        try:
            endpoint.check_model(request.path_params["name"])
        except BadRequest as exc:
            return _error_response(exc)
        return JSONResponse(endpoint.model_card())

    async def chat(request: Request) -> Response:
        from kaizen_lab.security.limits import parse_json

        body, problem = parse_json(await request.body())
        if problem is not None:  # a body sent without a JSON content type skips the limits' own check
            return _error_response(BadRequest(problem, code="invalid_json"))
        try:
            req = parse_request(body)
            if not req.stream:
                return JSONResponse(await endpoint.complete(req))
            steps = endpoint.steps(req)
            try:
                first = await anext(steps, None)  # errors before the first token are plain HTTP errors
            except BaseException:
                await steps.aclose()
                raise
            return StreamingResponse(endpoint.stream(req, steps, first), media_type="text/event-stream",
                                     headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
        except BadRequest as exc:
            return _error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        message = {404: f"no route {request.url.path}; this server has GET /v1/models and POST "
                        "/v1/chat/completions", 405: f"{request.method} is not allowed on {request.url.path}"}
        return _error_response(BadRequest(message.get(status, str(getattr(exc, "detail", exc))), status=status))

    async def server_error(request: Request, exc: Exception) -> Response:
        return _error_response(BadRequest(f"the model failed: {type(exc).__name__}: {exc}", status=500,
                                          kind="server_error"))

    app = Starlette(routes=[Route("/v1/models", models), Route("/v1/models/{name:path}", one_model),
                            Route("/v1/chat/completions", chat, methods=["POST"])],
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    return _Guard(_limits(app, max_body), token)


# -- serving ---------------------------------------------------------------------------------------------------


class ModelServer:
    """A running endpoint: ``url`` (the base URL for OpenAI clients, ending in ``/v1``), ``model``, ``token``,
    ``close()``; a context manager."""

    def __init__(self, served: Any, model: Any, token: str | None) -> None:
        self._served = served
        self.model = model
        self.token = token

    @property
    def url(self) -> str:
        return f"{self._served.url}/v1"

    @property
    def api_key(self) -> str:
        """What to pass as an OpenAI client's ``api_key`` (the token, or any placeholder without one)."""
        return self.token or "unused"

    @property
    def running(self) -> bool:
        return bool(self._served.running)

    def close(self) -> None:
        """Stop serving (idempotent)."""
        self._served.stop()

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ModelServer({self.url!r}, model={self.model.name!r})"


def _resolve(model: Any) -> Any:
    from kaizen_lab.models.local import LocalModel

    if isinstance(model, LocalModel):
        return model
    if isinstance(model, str):
        if model.endswith(".gguf") and not model.startswith("local:"):
            model = f"local:{model}"
        if model == "local" or model.startswith("local:"):
            from kaizen_lab.models.registry import resolve_model

            return resolve_model(model)
    raise UserError(f"only the embedded model can be served here: model='local', 'local:PATH.gguf' or a "
                    f"LocalModel, got {model!r}")


def serve(model: Any = "local", *, host: str = "127.0.0.1", port: int | None = None, token: str | None = None,
          timeout: float | None = 300.0, max_body: int = MAX_BODY, load: bool = True) -> ModelServer:
    """Serve the embedded model over an OpenAI-compatible API on a background thread.

    Args:
        model: ``"local"``, ``"local:PATH.gguf"`` (or just the path), or a ``LocalModel``.
        host: bind address; anything but loopback needs ``token``.
        port: TCP port (``None``: a free one).
        token: bearer token clients must send (at least 16 characters; required off loopback).
        timeout: seconds one answer may take before it fails (504), ``None`` for no limit.
        max_body: largest request body in bytes.
        load: load the weights now, so the first request does not wait for them.

    Returns:
        A running ``ModelServer``; use ``server.url`` as an OpenAI client's ``base_url``.

    Example:
        >>> from kaizen_lab.models.local import serve                       # doctest: +SKIP
        >>> with serve() as server:                                         # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=server.url, api_key=server.api_key)
    """
    if token is not None and len(token) < _MIN_TOKEN:
        raise UserError(f"the token must be at least {_MIN_TOKEN} characters; use secrets.token_urlsafe()")
    if host not in _LOOPBACK and token is None:
        raise UserError(f"serving the model on {host} makes it reachable from the network: pass a token "
                        "(token=..., --token or KAIZEN_MODEL_TOKEN) or bind 127.0.0.1")
    local = _resolve(model)
    if load:
        local.load()
    from kaizen_lab.security.served import ServedApp

    served = ServedApp(build_app(local, token=token, timeout=timeout, max_body=max_body), host=host, port=port,
                       name="model").start()
    return ModelServer(served, local, token)


def cli_command(argv: Sequence[str]) -> int:
    """``kaizen-lab model serve [--host] [--port] [--model local|local:PATH.gguf] [--token]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab model", description="The embedded model.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve the embedded model over an OpenAI-compatible API",
                         description="Serve the embedded model over an OpenAI-compatible API (/v1/models, "
                                     "/v1/chat/completions).")
    run.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need a token)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    run.add_argument("--model", default="local", help="'local' (default) or 'local:PATH.gguf'")
    run.add_argument("--token", default=None, help="bearer token clients must send (default: $KAIZEN_MODEL_TOKEN)")
    run.add_argument("--timeout", type=float, default=300.0, help="seconds one answer may take (default 300)")
    args = parser.parse_args(list(argv))
    token = args.token or os.environ.get("KAIZEN_MODEL_TOKEN") or None
    server = serve(args.model, host=args.host, port=args.port or None, token=token, timeout=args.timeout)
    print(json.dumps({"base_url": server.url, "model": server.model.name, "auth": bool(token)}), flush=True)
    print(f"serving {server.model.name} at {server.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
