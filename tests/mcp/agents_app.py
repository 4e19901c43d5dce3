"""Agents served by the MCP tests (``kaizen-lab mcp serve tests/mcp/agents_app.py:agents``): keyless models."""

from __future__ import annotations

import json

from kaizen_lab.agents import Agent
from kaizen_lab.models.testing import FunctionModel


def _echo(messages, info):  # noqa: ANN001, ANN202 - FunctionModel's callback shape
    question = messages[-1].content.split(":", 1)[-1].strip()
    return json.dumps({"answer": f"you asked: {question}"})


def _add(messages, info):  # noqa: ANN001, ANN202
    fields = dict(line.split(": ", 1) for line in messages[-1].content.splitlines() if ": " in line)
    return json.dumps({"total": int(fields["a"]) + int(fields["b"])})


qa = Agent("qa", "question: str -> answer: str", model=FunctionModel(_echo, name="echo"))
adder = Agent("adder", "a: int, b: int -> total: int", model=FunctionModel(_add, name="adder"),
              instructions="Add two integers.")
agents = [qa, adder]
