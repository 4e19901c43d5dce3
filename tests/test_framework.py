"""The Kaizen facade: configuration, signatures, agents, and staying cheap to construct."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_lab.config import KaizenConfig, load_config
from kaizen_lab.errors import ConfigError, SignatureError, UserError
from kaizen_lab.framework import Kaizen

ROOT = Path(__file__).resolve().parent.parent


def test_default_config_is_loaded() -> None:
    assert Kaizen().config == load_config()


def test_overrides_win_over_config() -> None:
    kaizen = Kaizen({"debug": False, "default_model": "test"}, debug=True)
    assert kaizen.config.debug is True
    assert kaizen.config.default_model == "test"


def test_accepts_an_existing_config_object() -> None:
    cfg = KaizenConfig(default_model="test")
    assert Kaizen(cfg).config is cfg


def test_accepts_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("multi_agent_enabled: false\n")
    assert Kaizen(path).config.multi_agent_enabled is False


def test_env_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_TRANSPARENCY_ENABLED", "false")
    assert Kaizen().config.transparency_enabled is False


def test_bad_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^debug: expected true or false, got 'very'$"):
        Kaizen(debug="very")
    with pytest.raises(ConfigError, match=r"did you mean 'debug'"):
        Kaizen(debg=True)


def test_create_signature() -> None:
    sig = Kaizen().create_signature("question: str -> answer: str, confidence: float", "Answer briefly.")
    assert sig.input_names == ("question",)
    assert sig.output_names == ("answer", "confidence")
    assert sig.instructions == "Answer briefly."


def test_create_signature_resolves_types_from_namespace() -> None:
    class Ticket:  # a user type known only through the namespace
        pass

    sig = Kaizen().create_signature("ticket: Ticket -> priority: int", namespace={"Ticket": Ticket})
    assert sig.fields["ticket"].annotation is Ticket


def test_create_signature_error_points_at_the_problem() -> None:
    with pytest.raises(SignatureError):
        Kaizen().create_signature("question: str -> ")


def test_create_agent_runs_with_the_test_model() -> None:
    kaizen = Kaizen()
    agent = kaizen.create_agent("qa", "question: str -> answer: str, confidence: float", model="test")
    result = agent.execute(question="What is Kaizen?")
    assert isinstance(result.answer, str)
    assert isinstance(result.confidence, float)
    assert kaizen.agents == {"qa": agent}
    assert kaizen.get_agent("qa") is agent


def test_create_agent_passes_the_facade_config() -> None:
    kaizen = Kaizen(default_model="test")
    agent = kaizen.create_agent("qa", "question -> answer")
    assert agent.execute(question="hi").answer  # default_model from the config: the keyless test model


def test_duplicate_agent_id_is_an_error() -> None:
    kaizen = Kaizen()
    kaizen.create_agent("qa", "question -> answer", model="test")
    with pytest.raises(UserError, match=r"an agent named 'qa' already exists"):
        kaizen.create_agent("qa", "question -> answer", model="test")


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_agent_id_is_an_error(bad: object) -> None:
    with pytest.raises(UserError, match="agent_id must be a non-empty string"):
        Kaizen().create_agent(bad, "question -> answer", model="test")  # type: ignore[arg-type]


def test_unknown_agent_option_is_reported() -> None:
    with pytest.raises(UserError, match=r"did you mean 'model'"):
        Kaizen().create_agent("qa", "question -> answer", modle="test")


def test_get_agent_suggests_the_closest_id() -> None:
    kaizen = Kaizen()
    kaizen.create_agent("summarizer", "text -> summary", model="test")
    with pytest.raises(UserError, match=r"no agent named 'sumarizer' \(did you mean 'summarizer'\?\); "
                                        r"agents: summarizer"):
        kaizen.get_agent("sumarizer")


def test_remove_agent_frees_the_id() -> None:
    kaizen = Kaizen()
    kaizen.create_agent("qa", "question -> answer", model="test")
    kaizen.remove_agent("qa")
    assert kaizen.agents == {}
    kaizen.create_agent("qa", "question -> answer", model="test")
    with pytest.raises(UserError, match="no agent named 'nope'"):
        kaizen.remove_agent("nope")


def test_repr_lists_agents() -> None:
    kaizen = Kaizen(default_model="test")
    kaizen.create_agent("b", "x -> y")
    kaizen.create_agent("a", "x -> y")
    assert repr(kaizen) == "Kaizen(agents=['a', 'b'], default_model='test')"


def test_construction_imports_no_heavy_module() -> None:
    code = ("import sys, json; from kaizen_lab import Kaizen; Kaizen(); Kaizen(debug=True); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'kailash', 'mcp', 'IPython', 'plotly', 'ipywidgets', 'numpy', 'openai', 'anthropic'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def test_readme_quickstart_runs() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert isinstance(namespace["result"].answer, str)  # type: ignore[attr-defined]
    assert isinstance(namespace["result"].confidence, float)  # type: ignore[attr-defined]


def test_audit_logging_records_agent_runs_and_tool_calls(tmp_path) -> None:
    from kaizen_lab import Kaizen

    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    kaizen = Kaizen(security={"audit_logging": True, "audit_path": str(tmp_path / "audit.db")})
    try:
        agent = kaizen.create_agent("qa", "question -> answer", model="test", tools=[lookup])
        agent.execute(question="q")
        records = kaizen.security.audit.records()
        assert [(r.operation, r.resource, r.result) for r in records] == [
            ("call", "tool/lookup", "success"), ("execute", "agent/qa", "success")]
        assert kaizen.security.audit.verify().ok
    finally:
        kaizen.close()
    agent.execute(question="after close")
    assert len(kaizen.security.audit.records()) == 2


def test_create_agent_option_dicts_are_checked() -> None:
    kaizen = Kaizen()
    with pytest.raises(UserError, match="takes the agent's options as a dict, got KaizenConfig"):
        kaizen.create_agent("a", config=KaizenConfig())
    with pytest.raises(UserError, match="the signature is given twice"):
        kaizen.create_agent("b", "q -> a", config={"signature": "x -> y"})
    with pytest.raises(UserError, match="either in settings= or as"):
        kaizen.create_agent("c", config={"temperature": 0.1, "settings": {"seed": 1}})
    # keyword options win over the same option in the dict
    agent = kaizen.create_agent("d", config={"model": "nope", "max_retries": 5}, model="test")
    assert agent.model_label == "test:test" and agent.max_retries == 5
    assert sorted(kaizen.agents) == ["d"]  # the refused ones were not kept


def test_create_pipeline_keeps_the_agent_and_mapping_form() -> None:
    kaizen = Kaizen()
    kaizen.create_agent("first", "question -> draft", model="test")
    kaizen.create_agent("second", "text -> summary", model="test")
    builder = kaizen.create_pipeline(["first", ("second", {"text": "draft"})])  # an existing id: a mapping
    workflow = builder.build()
    edges = {(s, t, d["to_input"]) for s, t, d in workflow.graph.edges(data=True)}
    assert ("first", "second", "text") in edges
