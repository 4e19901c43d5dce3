"""The ``kaizen_lab`` comm protocol between the kernel and the JupyterLab extension, as types.

Every message on the comm is one of the TypedDicts below, told apart by its ``type``: the data the kernel's
comm opens with, the requests the extension sends and the replies the kernel sends back (each echoing the
request's ``request_id``). ``extensions/jupyterlab-kaizen/src/protocol.ts`` is generated from this module
(``python -m kaizen_lab.notebook.protocol > extensions/jupyterlab-kaizen/src/protocol.ts``, or
``make ext-protocol``) and a test fails when it is stale, so the two sides cannot drift apart.

Requests come from a browser, so ``parse_request`` validates them (pydantic, against these very types) before
the kernel dispatches on them; a malformed request is answered with an ``ErrorReply`` naming what is wrong.
"""

# no ``from __future__ import annotations``: TypedDict reads ``NotRequired`` from evaluated annotations
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from kaizen_lab.errors import UserError

__all__ = [
    "AgentEntry", "CheckSignatureReply", "CheckSignatureRequest", "ErrorReply", "McpServerEntry", "ProtocolError",
    "ReadyMessage", "Reply", "Request", "RunEntry", "SignatureDiagnostic", "SignatureEntry", "StateReply",
    "StateRequest", "Theme", "TraceReply", "TraceRequest", "parse_request", "typescript",
]

Theme = Literal["light", "dark"]


class ReadyMessage(TypedDict):
    """The data of the comm the kernel opens on ``%load_ext kaizen_lab``."""

    type: Literal["ready"]


# ------------------------------------------------------------------------------------------- requests


class CheckSignatureRequest(TypedDict):
    """Check a ``%%signature`` cell with the parser ``%%signature`` itself uses."""

    type: Literal["check_signature"]
    request_id: NotRequired[str]
    code: str


class StateRequest(TypedDict):
    """The notebook's signatures, agents, MCP servers and recent runs, for the sidebar; ``theme`` is the theme
    JupyterLab shows (figures built afterwards follow it)."""

    type: Literal["state"]
    request_id: NotRequired[str]
    theme: NotRequired[Theme]


class TraceRequest(TypedDict):
    """The span tree of one run, as HTML for a panel beside the notebook."""

    type: Literal["trace"]
    request_id: NotRequired[str]
    run_id: str


Request = CheckSignatureRequest | StateRequest | TraceRequest

# ------------------------------------------------------------------------------------------- replies


class SignatureDiagnostic(TypedDict):
    """One error in a ``%%signature`` cell; ``line`` counts from 1 in the cell, ``column`` from 0."""

    message: str
    line: int
    column: int


class CheckSignatureReply(TypedDict):
    """The errors of the checked cell (none when it parses)."""

    type: Literal["check_signature"]
    request_id: str | None
    errors: list[SignatureDiagnostic]


class SignatureEntry(TypedDict):
    """A signature bound in the notebook."""

    name: str
    text: str


class AgentEntry(TypedDict):
    """An agent bound in the notebook."""

    name: str
    agent_id: str
    model: str
    tools: list[str]
    signature: str


class McpServerEntry(TypedDict):
    """A connected MCP server."""

    name: str
    status: str
    tools: list[str]


class RunEntry(TypedDict):
    """A finished run; ``started`` is in seconds since the epoch, ``input`` the first input, shortened."""

    run_id: str
    agent_id: str
    status: str
    duration_ms: float
    model: str | None
    started: float
    input: str


class StateReply(TypedDict):
    """What the sidebar shows."""

    type: Literal["state"]
    request_id: str | None
    signatures: list[SignatureEntry]
    agents: list[AgentEntry]
    mcp_servers: list[McpServerEntry]
    runs: list[RunEntry]


class TraceReply(TypedDict):
    """A run's span tree; every value in ``html`` is escaped by the kernel."""

    type: Literal["trace"]
    request_id: str | None
    run_id: str
    html: str


class ErrorReply(TypedDict):
    """A request the kernel could not answer: malformed, of an unknown type, or failed while answered."""

    type: Literal["error"]
    request_id: str | None
    error: str


Reply = CheckSignatureReply | StateReply | TraceReply | ErrorReply

REQUEST_TYPES: tuple[str, ...] = ("check_signature", "state", "trace")


class ProtocolError(UserError):
    """A comm message that is not one of the protocol's requests (answered to the extension as an error)."""


@cache
def _request_adapter() -> Any:
    from typing import Annotated

    from pydantic import Field, TypeAdapter

    return TypeAdapter(Annotated[Request, Field(discriminator="type")])


def parse_request(data: Mapping[str, object]) -> Request:
    """``data`` as a typed request.

    Raises:
        ProtocolError: ``data`` has an unknown ``type`` or fields of the wrong type; the message names them.
    """
    kind = data.get("type")
    if kind not in REQUEST_TYPES:
        expected = ", ".join(repr(k) for k in REQUEST_TYPES[:-1]) + f" or {REQUEST_TYPES[-1]!r}"
        raise ProtocolError(f"unknown request type {kind!r}; expected {expected}")
    from pydantic import ValidationError

    try:
        request: Request = _request_adapter().validate_python(dict(data))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:]) or 'request'}: {err['msg']}"
                             for err in exc.errors())
        raise ProtocolError(f"malformed {kind!r} request: {problems}") from None
    return request


#: the declarations of protocol.ts, in order
_TYPESCRIPT: dict[str, object] = {
    "Theme": Theme,
    "ReadyMessage": ReadyMessage,
    "CheckSignatureRequest": CheckSignatureRequest,
    "StateRequest": StateRequest,
    "TraceRequest": TraceRequest,
    "Request": Request,
    "SignatureDiagnostic": SignatureDiagnostic,
    "CheckSignatureReply": CheckSignatureReply,
    "SignatureEntry": SignatureEntry,
    "AgentEntry": AgentEntry,
    "McpServerEntry": McpServerEntry,
    "RunEntry": RunEntry,
    "StateReply": StateReply,
    "TraceReply": TraceReply,
    "ErrorReply": ErrorReply,
    "Reply": Reply,
}


def typescript() -> str:
    """The TypeScript mirror of this module (the content of the extension's ``src/protocol.ts``)."""
    from kaizen_lab.notebook._typescript import emit

    return emit(_TYPESCRIPT, source="kaizen_lab/notebook/protocol.py",
                command="python -m kaizen_lab.notebook.protocol > extensions/jupyterlab-kaizen/src/protocol.ts")


if __name__ == "__main__":  # pragma: no cover - the generator's command line
    sys.stdout.write(typescript())
