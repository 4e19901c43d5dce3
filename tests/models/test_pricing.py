"""Price lookup and cost: known models, snapshots, overrides, and None (never 0) when unknown."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import ConfigError
from kaizen_lab.models import pricing
from kaizen_lab.models.base import Usage
from kaizen_lab.models.pricing import cost_for, price_for, set_prices

MILLION = Usage(1_000_000, 1_000_000)


@pytest.fixture(autouse=True)
def _clean_overrides():
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def test_known_model_cost():
    assert cost_for("openai:gpt-4o-mini", Usage(2000, 1000)) == pytest.approx((2000 * 0.15 + 1000 * 0.60) / 1e6)


def test_dated_snapshot_takes_its_model_price():
    assert price_for("openai:gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert price_for("anthropic:claude-3-5-haiku-20241022") == (0.80, 4.00)
    assert price_for("openai:gpt-4-turbo-2024-04-09") == (10.00, 30.00)


def test_other_suffixes_are_other_models_and_unknown():
    assert price_for("anthropic:claude-opus-4-6") is None  # not the claude-opus-4 price
    assert price_for("openai:gpt-4o-audio-preview") is None
    assert price_for("openai:gpt-5.1") is None


def test_unknown_cost_is_none_not_zero():
    assert cost_for("ollama:llama3.2", MILLION) is None
    assert cost_for("openai:my-finetune", MILLION) is None


def test_zero_usage_on_a_known_model_costs_zero():
    assert cost_for("openai:gpt-4o", Usage(0, 0)) == 0.0


def test_explicit_prices_win_over_overrides_and_table():
    set_prices({"openai:gpt-4o": {"input": 1.0, "output": 2.0}})
    assert cost_for("openai:gpt-4o", MILLION) == pytest.approx(3.0)
    assert cost_for("openai:gpt-4o", MILLION, {"gpt-4o": (10, 20)}) == pytest.approx(30.0)


def test_provider_qualified_override_applies_only_to_that_provider():
    set_prices({"ollama:llama3.2": {"input": 0.0, "output": 0.0}, "vllm:qwen": [0.1, 0.2]})
    assert cost_for("ollama:llama3.2", MILLION) == 0.0
    assert cost_for("openai:llama3.2", MILLION) is None
    assert cost_for("vllm:qwen", MILLION) == pytest.approx(0.3)


def test_bad_price_entry_is_a_config_error():
    with pytest.raises(ConfigError, match=r"prices\.gpt-x: expected \{input"):
        set_prices({"gpt-x": {"inptu": 1, "output": 2}})
    assert pricing._overrides == {}
