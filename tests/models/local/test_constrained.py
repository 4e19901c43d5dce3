"""llguidance-constrained decoding: schema bounds, compilation errors, forced and allowed tokens."""

from __future__ import annotations

import json

import jsonschema
import pytest

from kaizen_lab.errors import UserError
from kaizen_lab.models.local._constrained import JsonConstraint, bound_schema, compile_json_schema


def test_bound_schema_narrows_without_touching_the_original() -> None:
    schema = {"type": "object", "properties": {
        "s": {"type": "string"}, "e": {"type": "string", "enum": ["a"]},
        "xs": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 20},
        "o": {"anyOf": [{"$ref": "#/$defs/In"}, {"type": "null"}]}},
        "$defs": {"In": {"type": "object", "properties": {"t": {"type": "string"}}}}}
    before = json.dumps(schema, sort_keys=True)
    out = bound_schema(schema)
    assert json.dumps(schema, sort_keys=True) == before
    props = out["properties"]
    assert props["s"]["maxLength"] == 200
    assert "maxLength" not in props["e"]
    assert props["xs"]["maxItems"] == 20 and props["xs"]["items"]["maxLength"] == 5
    assert out["additionalProperties"] is False
    assert out["$defs"]["In"]["additionalProperties"] is False
    assert out["$defs"]["In"]["properties"]["t"]["maxLength"] == 200
    # everything the bounded schema accepts, the original accepts too
    jsonschema.validate({"s": "x", "e": "a", "xs": ["a"] * 20, "o": {"t": "y"}}, out)
    jsonschema.validate({"s": "x", "e": "a", "xs": ["a"] * 20, "o": {"t": "y"}}, schema)


def test_allof_parts_stay_open() -> None:
    out = bound_schema({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}},
                                  {"type": "object", "properties": {"b": {"type": "integer"}}}]})
    assert all("additionalProperties" not in part for part in out["allOf"])


@pytest.mark.slow
def test_invalid_schema_is_a_user_error(loaded) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match="output_schema"):
        compile_json_schema({"type": "object", "properties": {"a": {"type": "strnig"}}}, loaded.ll_tokenizer())


@pytest.mark.slow
def test_forced_and_allowed_tokens(loaded) -> None:  # type: ignore[no-untyped-def]
    tok = loaded.tokenizer
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    c = JsonConstraint(compile_json_schema(schema, loaded.ll_tokenizer()), loaded.ll_tokenizer(), tok.vocab_size)
    forced = c.forced()
    assert tok.decode(forced) == '{"ok":'  # the only key is forced, compact JSON has no whitespace
    c.consume(forced)
    assert c.forced() == []  # true or false: a real choice
    allowed = {tok.decode([int(i)]) for i in c.allowed()}
    assert allowed and all("true".startswith(a) or "false".startswith(a) for a in allowed)
    c.consume(tok.encode("true"))
    assert tok.decode(c.forced()) == "}"
    c.consume(c.forced())
    assert c.done and c.accepting
    assert c.allowed().tolist() == [tok.eos_id]
