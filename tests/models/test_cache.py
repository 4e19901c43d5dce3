"""Response caches: memory LRU and SQLite (persistence), hits/misses, keys, errors never cached."""

from __future__ import annotations

import sqlite3

import pytest

from kaizen_lab.errors import ModelError
from kaizen_lab.models._retry import RetryPolicy
from kaizen_lab.models.base import Message, ModelResponse, ModelSettings, ToolCall, ToolSpec, Usage
from kaizen_lab.models.cache import CachedModel, MemoryCache, SQLiteCache, cache_key
from kaizen_lab.models.openai import OpenAIModel
from kaizen_lab.models.testing import FunctionModel, ScriptedModel, TestModel
from tests.models.wire_server import Reply, error, openai_completion

pytestmark = pytest.mark.anyio

QA = [Message("system", "Be brief."), Message("user", "Capital of France?")]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}}


def counting_model() -> FunctionModel:
    def answer(messages, info):
        return ModelResponse(text=f"answer {info.call_index}", usage=Usage(10, 2), cost=0.01,
                             tool_calls=(ToolCall("c1", "lookup", {"q": "x"}),))
    return FunctionModel(answer, name="counting")


@pytest.fixture(params=["memory", "sqlite"])
def cache(request, tmp_path):
    if request.param == "memory":
        yield MemoryCache(16)
        return
    c = SQLiteCache(tmp_path / "cache" / "responses.db")
    yield c
    c.close()


async def test_second_identical_request_is_a_hit(cache):
    inner = counting_model()
    model = CachedModel(inner, cache)
    first = await model.request(QA, output_schema=SCHEMA)
    second = await model.request(QA, output_schema=SCHEMA)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.text == first.text == "answer 0"
    assert second.tool_calls == first.tool_calls and second.usage == first.usage
    assert first.cost == 0.01 and second.cost == 0.0  # nothing was spent on the hit
    assert inner.calls == 1
    assert (model.hits, model.misses) == (1, 1)
    assert len(cache) == 1


@pytest.mark.parametrize("change", [
    {"messages": [Message("user", "Capital of Spain?")]},
    {"settings": ModelSettings(temperature=0.9)},
    {"tools": [ToolSpec("lookup", "find", {"type": "object"})]},
    {"output_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
])
async def test_anything_that_changes_the_answer_changes_the_key(cache, change):
    inner = counting_model()
    model = CachedModel(inner, cache)
    base = {"messages": QA, "settings": None, "tools": None, "output_schema": SCHEMA}
    await model.request(base["messages"], settings=base["settings"], tools=base["tools"],
                        output_schema=base["output_schema"])
    varied = {**base, **change}
    response = await model.request(varied["messages"], settings=varied["settings"], tools=varied["tools"],
                                   output_schema=varied["output_schema"])
    assert not response.cache_hit and inner.calls == 2


def test_key_ignores_timeout_and_is_stable():
    a = cache_key("openai:m", QA, ModelSettings(timeout=1), None, SCHEMA)
    b = cache_key("openai:m", list(QA), ModelSettings(timeout=99), [], dict(SCHEMA))
    assert a == b and len(a) == 64
    assert cache_key("openai:other", QA, None, None, SCHEMA) != a


async def test_errors_are_never_cached(cache):
    inner = ScriptedModel([ModelError("down", retryable=True), "recovered"])
    model = CachedModel(inner, cache)
    with pytest.raises(ModelError):
        await model.request(QA)
    assert len(cache) == 0
    response = await model.request(QA)
    assert response.text == "recovered" and not response.cache_hit
    assert (await model.request(QA)).cache_hit
    assert (model.hits, model.misses) == (1, 2)


async def test_unknown_cost_stays_none_on_a_hit(cache):
    model = CachedModel(TestModel(), cache)
    await model.request(QA)
    hit = await model.request(QA)
    assert hit.cache_hit and hit.cost is None


async def test_sqlite_cache_persists_across_instances(tmp_path):
    path = tmp_path / "responses.db"
    first = SQLiteCache(path)
    await CachedModel(counting_model(), first).request(QA)
    first.close()
    second = SQLiteCache(path)
    inner = counting_model()
    response = await CachedModel(inner, second).request(QA)
    assert response.cache_hit and response.text == "answer 0" and inner.calls == 0
    second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_memory_cache_evicts_least_recently_used():
    cache = MemoryCache(2)
    r = ModelResponse(text="x")
    cache.set("a", r)
    cache.set("b", r)
    assert cache.get("a") is not None  # a is now the most recent
    cache.set("c", r)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


async def test_stream_hit_yields_cached_text(cache):
    model = CachedModel(TestModel(), cache)
    await model.request(QA)
    assert [d async for d in model.stream(QA)] == ["test output"]
    assert model.hits == 1


async def test_cached_hosted_model_skips_the_server(wire, allow_real, tmp_path):
    wire.script(error(500), Reply(body=openai_completion("Paris", usage=(100, 10))))
    inner = OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key="sk-x-123",
                        retry=RetryPolicy(max_retries=0))
    model = CachedModel(inner, SQLiteCache(tmp_path / "c.db"))
    assert model.label == "openai:gpt-4o-mini" and model.hosted
    with pytest.raises(ModelError):
        await model.request(QA)
    assert (await model.request(QA)).text == "Paris"
    hit = await model.request(QA)
    assert hit.cache_hit and hit.text == "Paris" and hit.usage == Usage(100, 10)
    assert len(wire.requests) == 2


def test_an_empty_cache_is_truthy(cache):
    assert len(cache) == 0 and bool(cache)
