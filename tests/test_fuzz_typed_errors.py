"""Fuzzing config loading, agent options, signatures and magics finds only the project's own error types.

Bounded: each property runs a fixed number of examples with small inputs; the known worst cases (deep
nesting, huge numbers, alias bombs, non-finite values) are mixed into the strategies explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizen_lab.agents import Agent
from kaizen_lab.config import load_config
from kaizen_lab.errors import KaizenError
from kaizen_lab.signatures import Signature

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                 for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True))

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from([math.inf, -math.inf, math.nan, 10**4000, "2", "-1", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)
CONFIG_KEYS = st.sampled_from(["debug", "default_model", "models", "store", "security", "mcp", "tracing", "bogus",
                               "redact_patterns", "prices", "store.path", "models.x.provider"])
YAML_PIECES = st.sampled_from(["debug: true\n", "models:\n", "  x:\n", "    provider: openai\n", "- a\n", "[", "{",
                               "]", "}", "&a ", "*a ", "!!python/object:os.system\n", "'", '"', ": ", "\t", "#",
                               "9" * 5000, ".inf", ".nan", "\xff", "\x00", LAUGHS, "[" * 3000, "a:\n" * 3])


def _typed(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except KaizenError as exc:
        assert str(exc), "a typed error must say what is wrong"
        return None


@FUZZ
@given(st.lists(YAML_PIECES, max_size=8).map("".join))
def test_config_text(text: str) -> None:
    config = _typed(load_config, text)
    if config is not None:
        str(config), repr(config), config.to_yaml(), config.to_json()


@FUZZ
@given(st.dictionaries(CONFIG_KEYS, VALUES, max_size=4))
def test_config_dicts(data: dict[str, Any]) -> None:
    config = _typed(load_config, data)
    if config is not None:
        str(config), config.to_yaml()


OPTIONS = st.sampled_from(["max_retries", "timeout", "model_timeout", "max_tool_steps", "settings", "memory", "cache",
                           "adapter", "model", "instructions", "tools", "namespace", "bogus"])


@FUZZ
@given(st.dictionaries(OPTIONS, VALUES, max_size=3), st.one_of(VALUES, st.just("question -> answer")))
def test_agent_options(options: dict[str, Any], signature: Any) -> None:
    agent = _typed(Agent, "qa", signature, **options)
    if agent is not None:
        repr(agent)


@FUZZ
@given(VALUES)
def test_agent_run_inputs(inputs: Any) -> None:
    agent = Agent("qa", "question -> answer", model="test")
    _typed(agent.run, inputs)
    if isinstance(inputs, dict):
        _typed(agent.execute, **{str(k): v for k, v in inputs.items()})


SIG_PIECES = st.sampled_from(["q", "a", ": ", "str", "int", "float", "list", "dict", "Literal", "Optional", "[", "]",
                              "'x'", ", ", " -> ", "->", "\n", "= ", "1e400", "-1e400", "None", "# d", '"""doc"""',
                              "str.__class__", "int.__base__", "|", "(", ")", "{", "}", "*", "9" * 5000, "[" * 200,
                              "tuple", "...", "Any", "Union", "bool", "True", "_x", "lambda", "0x", "\\"])


@FUZZ
@given(st.lists(SIG_PIECES, min_size=1, max_size=12).map("".join))
def test_signature_text(text: str) -> None:
    sig = _typed(Signature.parse, text)
    if sig is not None:
        _typed(sig.input_schema)
        _typed(sig.output_schema)
        assert Signature.parse(sig.to_text()) == sig  # what prints must parse back


@pytest.fixture(scope="module")
def magics() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "kaizen_lab")
    shell.run_cell('%agent qa "question -> answer" --model test', silent=True)
    return shell.magics_manager.registry["KaizenMagics"]


LINE_PIECES = st.sampled_from(["run ", "qa ", "step ", "list", "show ", "qb ", '"q -> a" ', "QA ", "question=", '"x" ',
                               "1/0 ", "[", "'", '"', "--model ", "test ", "--tools ", "a,b ", "--mcp ", "-v ", "-o ",
                               "-q ", "--instructions ", "x=", "undefined ", "{} ", "--bogus ", "-- ", "= ", "\\"])
BODY_PIECES = st.sampled_from(["signature: q -> a\n", "model: test\n", "tools: 5\n", "tools: [1]\n", "- a\n",
                               "timeout: .inf\n", "max_retries: '2'\n", "memory: maybe\n", "instructions: {a: 1}\n",
                               "mcp: 7\n", "[" * 500, LAUGHS, "bogus: 1\n", ": :\n", "9" * 5000, "signature: {a: b}\n"])


@FUZZ
@given(st.lists(LINE_PIECES, max_size=8).map("".join), st.one_of(st.none(), st.lists(BODY_PIECES, max_size=5)
                                                                  .map("".join)))
def test_agent_magic(magics: Any, line: str, body: str | None) -> None:
    from IPython.core.error import UsageError

    try:
        _typed(magics.agent, line, body)  # an error card, or a typed error that fails the cell
    except UsageError:
        pass  # IPython's own one-line report of an unknown or incomplete option


@FUZZ
@given(st.lists(LINE_PIECES, max_size=4).map("".join), st.lists(SIG_PIECES, max_size=8).map("".join))
def test_signature_magic(magics: Any, line: str, body: str) -> None:
    from IPython.core.error import UsageError

    try:
        _typed(magics.signature, line, body)
    except UsageError:
        pass


CELL_PIECES = st.sampled_from(["%%agent qa\n", "%agent qa ", "%%signature QA ", "%%signature QA\n", "QA ",
                               '"q -> a" ', "--model test ", "--tools f ", "-i ", "signature: q -> a\n",
                               "from kaizen_lab.agents import Agent\n", 'qa = Agent("qa", "q -> a", model="test")\n',
                               "Agent(", ")", "'", '"', '"""', "def f(x: str) -> str:\n    return x\n", "tools=[f]",
                               "timeout=1e400", ", ", "\n", "q: str -> a: str\n", "- a\n", LAUGHS, "[" * 500,
                               "%load_ext kaizen_lab\n", "x = lambda: 1\n", "import os\n", "\\", "#", "\x00"])


@FUZZ
@given(st.lists(st.lists(CELL_PIECES, max_size=6).map("".join), max_size=4), st.text(max_size=10))
def test_export_of_arbitrary_cells(cells: list[str], agent_id: str) -> None:
    import tempfile
    from pathlib import Path

    from kaizen_lab.export import export_cells

    with tempfile.TemporaryDirectory() as tmp:
        _typed(export_cells, cells, Path(tmp) / "out")
        _typed(export_cells, cells, Path(tmp) / "out2", agent_id=agent_id or None)
