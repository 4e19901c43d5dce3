"""Property: any text in an agent's fields survives export exactly, and the README stays Markdown."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import mistune
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kaizen_lab._yaml import load_yaml
from kaizen_lab.agents import Agent
from kaizen_lab.errors import SignatureError
from kaizen_lab.export import export_cells, load_export
from kaizen_lab.export._secrets import secrets_in_text

ONE_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e"
                                                                                     "\x85\u2028\u2029"),
                   max_size=40)


def _headings_and_blocks(markdown: str) -> tuple[list[tuple[int, str]], list[str | None]]:
    tokens = mistune.create_markdown(renderer=None)(markdown)
    headings = [(t["attrs"]["level"], "".join(c.get("raw", "") or "".join(g.get("raw", "")
                                                                          for g in c.get("children", []))
                                             for c in t["children"]))
                for t in tokens if t["type"] == "heading"]
    blocks = [t.get("attrs", {}).get("info") for t in tokens if t["type"] == "block_code"]
    return headings, blocks


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_id=st.text(min_size=1, max_size=40), instructions=st.text(max_size=80), description=ONE_LINE,
       default=st.text(max_size=40), source=st.text(min_size=1, max_size=30))
def test_any_text_round_trips_through_an_export(agent_id: str, instructions: str, description: str, default: str,
                                                source: str) -> None:
    assume(not any(secrets_in_text(t) for t in (agent_id, instructions, description, default, source)))
    signature = f"question: str = {default!r}  # {description}\n->\nanswer: str"
    try:
        expected = Agent(agent_id, signature, model="test", instructions=instructions)
    except SignatureError:
        assume(False)
        raise
    cell = f"qa = Agent({agent_id!r}, {signature!r}, model='test', instructions={instructions!r})"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        export_cells(["from kaizen_lab.agents import Agent", cell], out, source_name=source)
        module: Any = load_export(out)
        agent = module.agent
        assert (agent.agent_id, agent.signature.instructions, agent.signature.to_dict()) == \
            (expected.agent_id, expected.signature.instructions, expected.signature.to_dict())
        assert agent.signature.input_fields[0].default == default
        assert module._SPEC["source"] == source
        config = load_yaml((out / "kaizen.yaml").read_text(encoding="utf-8"))
        assert (config["agent_id"], config["instructions"], config["signature"]) == (agent_id, instructions,
                                                                                     signature)
        headings, blocks = _headings_and_blocks((out / "README.md").read_text(encoding="utf-8"))
        assert [h[0] for h in headings] == [1, 2, 2, 2, 2]
        assert blocks == ["text", "bash"]  # fenced blocks only: nothing indented into a code block


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instructions=st.text(max_size=80), description=ONE_LINE, model=st.text(min_size=1, max_size=30))
def test_any_text_in_an_agent_yaml_cell_round_trips(instructions: str, description: str, model: str) -> None:
    import yaml

    assume(not any(secrets_in_text(t) for t in (instructions, description, model)))
    signature = f"question: str  # {description}\n->\nanswer: str"
    try:
        expected = Agent("qa", signature, model="test", instructions=instructions)
    except SignatureError:
        assume(False)
        raise
    body = yaml.safe_dump({"signature": signature, "model": model, "instructions": instructions})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        export_cells(["%%agent qa\n" + body], out)
        os.environ["KAIZEN_DEFAULT_MODEL"] = "test"  # the exported model name need not resolve here
        try:
            module: Any = load_export(out)
        finally:
            del os.environ["KAIZEN_DEFAULT_MODEL"]
        spec = module._SPEC
        assert (spec["instructions"], spec["signature"], spec["model"]) == (instructions, signature, model)
        assert module.agent.signature.to_dict() == expected.signature.to_dict()
