"""Chat messages to prompt text, with the chat template stored in the GGUF file.

The template is Jinja (``tokenizer.chat_template``), rendered in jinja2's immutable sandbox the way Hugging
Face renders it (``trim_blocks``/``lstrip_blocks``, ``raise_exception``, ``add_generation_prompt``). Files
without a template fall back to ChatML, which is what SmolLM2 uses.

When the caller gives no system message we add a short one: the model's built-in system prompt makes greedy
decoding ramble, a terse instruction keeps answers short and on topic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from kaizen_lab.errors import UserError
from kaizen_lab.messages import Message

__all__ = ["CHATML_TEMPLATE", "DEFAULT_SYSTEM_PROMPT", "SCHEMA_SYSTEM_PROMPT", "render_chat"]

DEFAULT_SYSTEM_PROMPT = "Answer with a short factual answer."
SCHEMA_SYSTEM_PROMPT = "Answer with short factual values in JSON."

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise UserError(f"the model's chat template rejected the messages: {message}")


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    return env.from_string(template)


def _content(message: Message) -> str:
    if message.tool_calls and not message.content:
        # A small local model never emits tool calls, but a conversation built elsewhere may contain them.
        return json.dumps([{"name": c.name, "arguments": c.arguments} for c in message.tool_calls])
    return message.text_with_placeholders()  # a text-only model: each image becomes a line naming it


def render_chat(messages: Sequence[Message], *, template: str | None = None, system_prompt: str | None = None,
                bos_token: str = "", eos_token: str = "") -> str:
    """Prompt text for ``messages``, ending with the assistant turn's opening.

    Args:
        messages: the conversation.
        template: Jinja chat template (``tokenizer.chat_template``); ChatML when ``None``.
        system_prompt: added as the first message when ``messages`` has no system message.
        bos_token: value of ``bos_token`` inside the template.
        eos_token: value of ``eos_token`` inside the template.
    """
    items = [{"role": m.role, "content": _content(m), **({"name": m.name} if m.name else {})} for m in messages]
    if system_prompt and not any(m["role"] == "system" for m in items):
        items.insert(0, {"role": "system", "content": system_prompt})
    return str(_compile(template or CHATML_TEMPLATE).render(
        messages=items, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token))
