"""resolve_model for the hosted providers: strings, named models from config, Ollama, errors."""

from __future__ import annotations

import pytest

from kaizen_lab.config import load_config
from kaizen_lab.errors import ConfigError, UserError
from kaizen_lab.models.anthropic import AnthropicModel
from kaizen_lab.models.base import Message
from kaizen_lab.models.openai import OpenAIModel
from kaizen_lab.models.registry import OLLAMA_BASE_URL, resolve_model
from kaizen_lab.models.testing import TestModel

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env-anthropic-1")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)


def test_provider_strings():
    openai = resolve_model("openai:gpt-4o-mini")
    assert isinstance(openai, OpenAIModel) and openai.label == "openai:gpt-4o-mini"
    claude = resolve_model("anthropic:claude-haiku-4-5")
    assert isinstance(claude, AnthropicModel) and claude.label == "anthropic:claude-haiku-4-5"
    assert isinstance(resolve_model("test"), TestModel)


def test_model_objects_pass_through():
    model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key="k")
    assert resolve_model(model) is model


def test_ollama_default_base_url_and_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    model = resolve_model("ollama:llama3.2")
    assert isinstance(model, OpenAIModel)
    assert model.base_url == OLLAMA_BASE_URL == "http://127.0.0.1:11434/v1"
    assert model.label == "ollama:llama3.2"
    assert resolve_model("ollama").name == "llama3.2"


def test_ollama_host_env_is_honoured(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    assert resolve_model("ollama:qwen").base_url == "http://10.0.0.5:11434/v1"


@pytest.mark.parametrize(("spec", "suggestion"), [("opneai:gpt-4o", "openai"), ("antropic:claude", "anthropic"),
                                                  ("olama:llama3", "ollama")])
def test_unknown_provider_suggests_and_lists(spec, suggestion):
    with pytest.raises(UserError, match=f"did you mean '{suggestion}'") as info:
        resolve_model(spec)
    assert "'anthropic', 'local', 'ollama', 'openai', 'test'" in str(info.value)


def test_unknown_named_model_suggests_config_names():
    with pytest.raises(UserError, match="did you mean 'fast'"):
        resolve_model("fsat", models={"fast": {"provider": "test"}})


async def test_named_model_from_config_reaches_its_server(wire, allow_real):
    config = load_config({"models": {"fast": {"provider": "openai", "base_url": wire.openai_url, "model": "m",
                                              "api_key": "sk-named-1"}},
                          "prices": {"openai:m": {"input": 1.0, "output": 2.0}}})
    model = resolve_model("fast", config=config)
    assert isinstance(model, OpenAIModel) and model.name == "m" and model.base_url == wire.openai_url
    response = await model.request([Message("user", "hi")])
    assert response.text == "echo: hi"
    assert wire.last.body["model"] == "m"
    assert response.cost == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)  # configured price


def test_named_models_argument_overrides_config():
    model = resolve_model("fast", models={"fast": {"provider": "anthropic", "model": "claude-haiku-4-5",
                                                   "max_tokens": 100}})
    assert isinstance(model, AnthropicModel) and model.max_tokens == 100


def test_named_model_with_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match=r"models\.fast: unknown option 'base_ur'.*did you mean 'base_url'"):
        resolve_model("fast", models={"fast": {"provider": "openai", "model": "m", "base_ur": "http://x"}})


def test_named_model_with_unknown_provider():
    with pytest.raises(ConfigError, match=r"models\.fast\.provider: expected one of"):
        resolve_model("fast", models={"fast": {"provider": "opnai", "model": "m"}})


def test_missing_key_through_resolve(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UserError, match="set OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o")
