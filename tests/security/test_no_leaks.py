"""Secrets of the handled kinds never leave through the doors an attacker or a screen-share would use: the
provider request (captured by the local wire-format server), tracebacks as Jupyter prints them, config
dumps, the trace store file and its WAL, the JSONL export, and logs."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.config import KaizenConfig, load_config
from kaizen_lab.errors import AgentRunError, ModelError, RedactedCause
from kaizen_lab.models import FunctionModel
from kaizen_lab.models.openai import OpenAIModel
from kaizen_lab.tracing import Tracer
from kaizen_lab.tracing.exporters.jsonl import JsonlExporter
from tests.models.conftest import _wire_session, allow_real, wire  # noqa: F401 - fixtures
from tests.models.wire_server import Reply, openai_completion

DB_PASSWORD = "Pg-s3cret-pass"
PROJECT_KEY = "sk-proj-" + "Zq8rT2vX9mK4nB7cW1yL5pD3fH6jG0sA" * 3
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8rT2vX9m"
MCP_TOKEN = "mcp-token-" + "Q7f2Lk9Xp3Vd8Rm1"
SECRETS = (DB_PASSWORD, PROJECT_KEY, AWS_SECRET, MCP_TOKEN)


def _leaks(text: str | bytes) -> list[str]:
    data = text.decode(errors="replace") if isinstance(text, bytes) else text
    return [s for s in SECRETS if s in data]


def lookup(customer: str) -> str:
    """Look up a customer in the CRM."""
    raise ConnectionError(f"could not reach postgresql://crm:{DB_PASSWORD}@db.internal/crm using {PROJECT_KEY}")


def test_tool_errors_reach_neither_the_provider_nor_the_store_nor_the_export(
        wire: Any, allow_real: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    wire.script(Reply(body=openai_completion(None, tool_calls=[("lookup", {"customer": "acme"})])),
                Reply(body=openai_completion('{"answer": "the CRM is down"}')))
    model = OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key="sk-agent-1234")
    agent = Agent("crm", "question -> answer", model=model, tools=[lookup])
    config = load_config({"tracing": {"store_path": str(tmp_path / "traces.db")}}, env={})
    tracer = Tracer(config=config, exporters=[JsonlExporter(tmp_path / "traces.jsonl")]).start()
    try:
        result = agent.execute(question=f"is acme ok? my aws secret is {AWS_SECRET}")
        tracer.flush()
        assert result.answer == "the CRM is down"
        tool_message = wire.last.body["messages"][-1]
        assert tool_message["role"] == "tool" and "ConnectionError" in tool_message["content"]
        assert "[REDACTED]" in tool_message["content"]
        # what the provider saw of the tool error (the question is the user's own text to the model)
        assert _leaks(str([r.body for r in wire.requests]).replace(AWS_SECRET, "")) == []
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("traces.db*"))
        assert _leaks(stored) == []
        assert AWS_SECRET not in stored.decode(errors="replace")  # the bare key in the input, too
        tracer.stop()
        assert _leaks((tmp_path / "traces.jsonl").read_text()) == []
    finally:
        tracer.close()
    assert _leaks(caplog.text) == []


def test_tracebacks_show_no_secret_from_a_provider_error() -> None:
    def failing(messages: Any, info: Any) -> Any:
        raise ValueError(f"upstream refused key {PROJECT_KEY} for postgresql://u:{DB_PASSWORD}@h/db")

    with pytest.raises(ModelError) as caught:
        Agent("leaky", "q -> a", model=FunctionModel(failing)).execute(q="x")
    err = caught.value
    printed = "".join(traceback.format_exception(err))
    assert "ValueError" in printed and "[REDACTED]" in printed
    assert _leaks(printed) == []
    assert isinstance(err.__cause__, RedactedCause) and err.__cause__.original_type == "builtins.ValueError"
    from IPython.core.ultratb import AutoFormattedTB  # how Jupyter shows it (Context mode)

    shown = AutoFormattedTB(mode="Context").text(type(err), err, err.__traceback__)
    assert "ValueError" in shown and _leaks(shown) == []


def test_a_clean_cause_is_kept_as_it_is() -> None:
    def failing(messages: Any, info: Any) -> Any:
        raise ValueError("rate limited, try later")

    with pytest.raises(AgentRunError) as caught:
        Agent("clean", "q -> a", model=FunctionModel(failing)).execute(q="x")
    assert type(caught.value.__cause__) is ValueError


def test_config_dumps_hide_keys_passwords_and_tokens() -> None:
    cfg = KaizenConfig(models={"main": {"provider": "openai", "model": "gpt-4o", "api_key": PROJECT_KEY}},
                       store={"backend": "postgresql", "url": f"postgresql://kaizen:{DB_PASSWORD}@db:5432/k"},
                       mcp_integration={"servers": {"crm": {"url": "http://127.0.0.1:9/mcp", "token": MCP_TOKEN,
                                                            "env": {"AWS_SECRET_ACCESS_KEY": AWS_SECRET}}}})
    for dump in (repr(cfg), str(cfg), cfg.to_yaml(), cfg.to_json(), repr(cfg.store), repr(cfg.mcp_integration),
                 str(cfg.to_dict(redact_secrets=True))):
        assert _leaks(dump) == [], dump
    assert "gpt-4o" in cfg.to_yaml() and "db:5432" in cfg.to_json()  # the rest is still shown
    assert load_config(cfg.to_yaml(redact_secrets=False), env={}) == cfg  # the explicit round trip keeps them
