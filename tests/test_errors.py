"""Errors keep their typed fields and never carry secrets in their messages."""

from __future__ import annotations

import pytest

from kaizen_lab.agents import Agent
from kaizen_lab.errors import ModelError, SignatureError, UserError, did_you_mean
from kaizen_lab.models import ScriptedModel

KEY = "sk-proj-" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2"


def test_api_keys_are_redacted_from_error_messages() -> None:
    err = ModelError(f"401 from provider: invalid key {KEY}", provider="openai", status=401)
    assert KEY not in str(err) and "[REDACTED]" in str(err)
    assert err.status == 401 and err.provider == "openai"


def test_a_key_leaking_from_a_provider_exception_is_redacted_in_the_run_error() -> None:
    agent = Agent("qa", "question -> answer", model=ScriptedModel([RuntimeError(f"bad header Bearer {KEY}")]))
    with pytest.raises(ModelError) as info:
        agent.execute(question="q")
    assert KEY not in str(info.value)
    assert all(KEY not in str(getattr(e, "error", "") or "") for e in info.value.events)


def test_signature_error_keeps_line_column_and_caret() -> None:
    err = SignatureError("unknown type 'flaot'", text="q: flaot -> a", column=3)
    assert str(err).splitlines() == ["unknown type 'flaot' at column 4", "    q: flaot -> a", "       ^"]
    assert (err.line, err.column) == (1, 3)


def test_did_you_mean() -> None:
    assert did_you_mean("questoin", ["question", "answer"]) == " (did you mean 'question'?)"
    assert did_you_mean("zzz", ["question"]) == ""
    assert isinstance(UserError("x"), Exception)
