"""Typed content and elicitation forms on their own: hostile text stays text, defaults and validation follow the
schema, and the widget form answers accept/decline/cancel."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace

import pytest

from kaizen_lab.errors import ConfigError
from kaizen_lab.mcp import ClientPolicy, MCPContent
from kaizen_lab.mcp._forms import ElicitForm, apply_defaults, validate_answer
from kaizen_lab.mcp.content import content_from_sdk, resource_contents_from_sdk

HOSTILE = "<script>alert('x')</script> \"\"\" ''' \n\u2028 & done"


def test_content_renders_hostile_text_escaped() -> None:
    text = MCPContent("text", text=HOSTILE, uri='test://"quoted"<uri>')
    html = text._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and '"quoted"' not in html
    link = MCPContent("resource_link", uri='javascript:"x"', name=HOSTILE)
    assert "<script>" not in link._repr_html_() and link.model_text().startswith("[resource link: ")
    assert link.summary() == {"type": "resource_link", "size": 0, "uri": 'javascript:"x"', "name": HOSTILE}


def test_sdk_blocks_become_typed_content() -> None:
    png = b"\x89PNG\r\n\x1a\nrest"
    image = content_from_sdk(SimpleNamespace(type="image", data=base64.b64encode(png).decode(), mime_type="image/png"))
    assert image.data == png and image.mime_type == "image/png" and image.size == len(png)
    assert image._repr_mimebundle_()["image/png"] == base64.b64encode(png).decode()
    blob = resource_contents_from_sdk(SimpleNamespace(uri="x://b", mime_type="application/octet-stream",
                                                      blob=base64.b64encode(b"\x00\x01\xff").decode()))
    assert blob.type == "blob" and blob.data == b"\x00\x01\xff"
    assert blob.model_text() == "[blob x://b application/octet-stream, 3 bytes]"


SCHEMA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "title": HOSTILE, "description": HOSTILE},
    "age": {"type": "integer", "default": 30},
    "mood": {"type": "string", "oneOf": [{"const": "ok", "title": "Fine"}, {"const": "meh", "title": "So-so"}]},
    "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
    "ok": {"type": "boolean", "default": True}}}


def test_defaults_and_validation() -> None:
    assert apply_defaults(SCHEMA, {"name": "x"}) == {"name": "x", "age": 30, "ok": True}
    assert validate_answer(SCHEMA, {"age": 1}) == "'name' is required"
    assert validate_answer(SCHEMA, {"name": "x", "age": "old"}) == "'age' must be a whole number"
    assert validate_answer(SCHEMA, {"name": "x", "mood": "angry"}) == "'mood' must be one of ['ok', 'meh']"
    assert validate_answer(SCHEMA, {"name": "x", "mood": "ok", "tags": ["a"]}) is None


def test_widget_form_answers_and_refuses_incomplete_input() -> None:
    form = ElicitForm("srv<b>", HOSTILE, SCHEMA)
    assert "<script>" not in form.widget.children[0].value
    assert form.fields["age"].value == 30 and form.fields["ok"].value is True

    async def answer() -> object:
        waiting = asyncio.ensure_future(form.answer())
        await asyncio.sleep(0)
        assert not form.submit()  # name is required
        assert "required" in form.error.value and not waiting.done()
        form.fields["name"].value = HOSTILE
        form.fields["tags"].value = ("a", "b")
        form.buttons["accept"].click()
        return await asyncio.wait_for(waiting, 5)

    result = asyncio.run(answer())
    assert result.action == "accept" and result.content["name"] == HOSTILE and result.content["tags"] == ["a", "b"]
    declined = ElicitForm("srv", "m", SCHEMA)
    declined.buttons["decline"].click()
    assert declined.result is not None and declined.result.action == "decline"


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="allow, ask or deny"):
        ClientPolicy(sampling="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="log_level"):
        ClientPolicy(log_level="loud")
