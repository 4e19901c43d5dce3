"""The comm protocol: typed messages, validated requests, and the TypeScript mirror kept in step."""

# no ``from __future__ import annotations``: the TypedDicts below are read at run time
import json
import re
from pathlib import Path
from typing import Any, Literal, NotRequired

import pytest
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from kaizen_lab.notebook import protocol
from kaizen_lab.notebook._typescript import emit
from kaizen_lab.notebook.comm import handle_request
from kaizen_lab.notebook.protocol import ProtocolError, parse_request

TS_FILE = Path(__file__).resolve().parents[2] / "extensions" / "jupyterlab-kaizen" / "src" / "protocol.ts"
REGENERATE = "python -m kaizen_lab.notebook.protocol > extensions/jupyterlab-kaizen/src/protocol.ts"


def test_the_extensions_protocol_ts_is_generated_from_the_python_types() -> None:
    assert TS_FILE.read_text(encoding="utf-8") == protocol.typescript(), f"protocol.ts is stale: run {REGENERATE}"


def _interfaces(ts: str) -> dict[str, dict[str, str]]:
    """Each ``export interface`` of ``ts``: field name (with ``?`` when optional) → type."""
    found = {}
    for name, body in re.findall(r"export interface (\w+) \{\n(.*?)\n\}", ts, flags=re.S):
        found[name] = dict(re.findall(r"^  (\w+\??): (.+);$", body, flags=re.M))
    return found


def test_every_message_kind_and_field_appears_in_the_typescript() -> None:
    interfaces = _interfaces(TS_FILE.read_text(encoding="utf-8"))
    for td in (protocol.CheckSignatureRequest, protocol.StateRequest, protocol.TraceRequest, protocol.ReadyMessage,
               protocol.CheckSignatureReply, protocol.StateReply, protocol.TraceReply, protocol.ErrorReply):
        fields = {name if name in td.__required_keys__ else f"{name}?" for name in td.__annotations__}
        assert set(interfaces[td.__name__]) == fields, td.__name__
        [kind] = td.__annotations__["type"].__args__
        assert interfaces[td.__name__]["type"] == json.dumps(kind)
    union = re.search(r"export type Request = (.+);", TS_FILE.read_text(encoding="utf-8"))
    assert union is not None and union.group(1).split(" | ") == [
        "CheckSignatureRequest", "StateRequest", "TraceRequest"]


@pytest.mark.parametrize(("data", "problem"), [
    ({"type": "check_signature"}, "malformed 'check_signature' request: code: Field required"),
    ({"type": "check_signature", "code": 7}, "code: Input should be a valid string"),
    ({"type": "state", "theme": "<nonsense>"}, "theme: Input should be 'light' or 'dark'"),
    ({"type": "trace", "run_id": ["r1"]}, "run_id: Input should be a valid string"),
    ({"code": "%%signature QA"}, "unknown request type None; expected 'check_signature', 'state' or 'trace'"),
])
def test_malformed_requests_are_refused_naming_the_field(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(problem)):
        parse_request(data)
    reply = handle_request({**data, "request_id": "kz-7"}, {})
    assert reply["type"] == "error" and reply["request_id"] == "kz-7"
    assert problem in reply["error"]


def test_replies_are_messages_of_the_protocol() -> None:
    """(The state and trace replies of a real run are checked the same way in test_comm.py.)"""
    replies = TypeAdapter(protocol.Reply)
    for request in ({"type": "check_signature", "code": "%%signature QA\nq: flaot -> a", "request_id": "kz-1"},
                    {"type": "state", "request_id": "kz-2"},
                    {"type": "trace", "run_id": "r-unknown", "request_id": "kz-3"},
                    {"type": "nope", "request_id": "kz-4"}):
        reply = handle_request(request, {})
        assert replies.validate_python(reply, strict=True) == reply
        assert reply["type"] in (request["type"], "error") and reply["request_id"] == request["request_id"]


# --------------------------------------------------------------------------------- the safe emitter


class _Hostile(TypedDict):
    """Ends the comment early */ alert(1); /* and breaks\u2028the line."""

    kind: Literal['"; alert(1); //', "line\u2028break", "</script>"]
    note: NotRequired[str | None]


def test_hostile_literals_and_docstrings_stay_data() -> None:
    ts = emit({"Hostile": _Hostile}, source="tests", command="none")
    assert ts.isascii()
    assert ts.count("*/") == ts.count("/**") == 1  # the docstring cannot close its comment
    [kind] = re.findall(r"^  kind: (.+);$", ts, flags=re.M)
    assert [json.loads(s) for s in kind.split(" | ")] == ['"; alert(1); //', "line\u2028break", "</script>"]
    assert "  note?: string | null;" in ts


def test_names_that_are_not_identifiers_are_refused() -> None:
    Evil = TypedDict("Evil", {"x: number; } alert(1); interface Y { y": str})  # type: ignore[misc]
    with pytest.raises(ValueError, match="not a TypeScript identifier"):
        emit({"Evil": Evil}, source="tests", command="none")
    with pytest.raises(ValueError, match="not a TypeScript identifier"):
        emit({"A = 1; alert(1)": str}, source="tests", command="none")
    with pytest.raises(ValueError, match="one-line ASCII"):
        emit({"A": str}, source="tests\n alert(1)", command="none")


class _Later(TypedDict):
    value: int


class _Uses(TypedDict):
    later: _Later


def test_types_without_a_typescript_form_are_refused() -> None:
    with pytest.raises(TypeError, match="used before it is declared"):
        emit({"Uses": _Uses, "Later": _Later}, source="tests", command="none")
    with pytest.raises(TypeError, match="no TypeScript form"):
        emit({"Mapping": dict[str, int]}, source="tests", command="none")
