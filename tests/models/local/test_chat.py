"""Prompt rendering with the chat template stored in the GGUF file."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import UserError
from kaizen_lab.models.base import Message, ToolCall
from kaizen_lab.models.local._chat import CHATML_TEMPLATE, DEFAULT_SYSTEM_PROMPT, render_chat


@pytest.mark.slow
def test_gguf_template_renders_chatml_with_short_system_prompt(loaded) -> None:  # type: ignore[no-untyped-def]
    text = render_chat([Message("user", "Hi there")], template=loaded.chat_template,
                       system_prompt=DEFAULT_SYSTEM_PROMPT)
    assert text == ("<|im_start|>system\nAnswer with a short factual answer.<|im_end|>\n"
                    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.slow
def test_gguf_template_adds_its_own_system_prompt_when_none_given(loaded) -> None:  # type: ignore[no-untyped-def]
    text = render_chat([Message("user", "Hi")], template=loaded.chat_template, system_prompt=None)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


def test_callers_system_message_wins() -> None:
    messages = [Message("system", "Be terse."), Message("user", "Q1"), Message("assistant", "A1"),
                Message("user", "Q2")]
    text = render_chat(messages, template=CHATML_TEMPLATE, system_prompt=DEFAULT_SYSTEM_PROMPT)
    assert DEFAULT_SYSTEM_PROMPT not in text
    assert text == ("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
                    "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_assistant_tool_calls_are_rendered_as_json() -> None:
    messages = [Message("user", "time?"),
                Message("assistant", "", tool_calls=(ToolCall("c1", "now", {"tz": "UTC"}),))]
    text = render_chat(messages, template=None, system_prompt=None)
    assert '<|im_start|>assistant\n[{"name": "now", "arguments": {"tz": "UTC"}}]<|im_end|>' in text


def test_template_raise_exception_becomes_user_error() -> None:
    template = "{{ raise_exception('roles must alternate') }}"
    with pytest.raises(UserError, match="roles must alternate"):
        render_chat([Message("user", "x")], template=template)
