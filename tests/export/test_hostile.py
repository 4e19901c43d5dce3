"""Exports never run notebook text: every text field carries a payload that would create a file if executed.

Each export is run the three ways users run it (``python workflow.py``, ``kaizen-lab run``, ``kailash run``);
no file may appear, and the exported agent's id, instructions and signature must equal the notebook's exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kaizen_lab.agents import Agent
from kaizen_lab.export import export_notebook

BIN = Path(sys.executable).parent
BOOM = 'open("PWNED", "w").close()'
PAYLOADS = [
    '"""; ' + BOOM + '; """',                     # docstring break-out
    "'''; " + BOOM + "; '''",
    'y"+__import__("os").system("touch PWNED")+"',  # string break-out (double quotes)
    "y'+__import__('os').system('touch PWNED')+'",  # string break-out (single quotes)
    '{__import__("os").system("touch PWNED")}',     # f-string break-out
    "\n" + BOOM + "\n#",                            # newline break-out
    "\r" + BOOM + "\r#",
    "\u2028" + BOOM + "\u2029#",
    "\\\n" + BOOM,                                  # backslash-continuation break-out
    '\\"; ' + BOOM + "; #",
    "# comment break-out\n" + BOOM,
    "%(prog)s 100% `code` <b>html</b> ```",       # argparse % formatting, Markdown fences
]
ONE_LINE = [p for p in PAYLOADS if not any(c in p for c in "\r\n\u2028\u2029")]
NAME_PAYLOAD = 'nb"""; ' + BOOM + '; """.ipynb'


def _signature_text() -> str:
    """A multi-line signature: a payload in each description comment and in the input's default."""
    return "\n".join([f"question: str  # {ONE_LINE[0]}",
                      f"context: str = {PAYLOADS[5]!r}  # {ONE_LINE[2]}",
                      "->",
                      f"answer: str  # {ONE_LINE[-1]}"])


def _api_cells(agent_id: str, instructions: str) -> list[str]:
    return ["from kaizen_lab.agents import Agent",
            f"def lookup(q: str) -> str:\n    \"\"\"Look {ONE_LINE[1]!r} up.\"\"\"\n    return {PAYLOADS[0]!r} + q",
            f"qa = Agent({agent_id!r}, {_signature_text()!r}, model='test', instructions={instructions!r}, "
            "tools=[lookup])",
            'qa.execute(question="hi")']


def _magic_cells(instructions: str) -> list[str]:
    body = yaml.safe_dump({"signature": _signature_text(), "model": "test", "instructions": instructions})
    return ["%load_ext kaizen_lab", "%%agent qa\n" + body]


def _write(path: Path, cells: list[str], markdown: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell(markdown), *(new_code_cell(c) for c in cells)])
    nbformat.write(nb, str(path))
    return path


def _describe(out: Path) -> dict[str, Any]:
    """The exported agent as ``workflow.py`` builds it (loaded here, in the run folder: a payload would land there)."""
    from kaizen_lab.export import load_export

    module = load_export(out)
    with pytest.raises(SystemExit) as help_exit:
        module._kaizen_main(module.agent, ["--help"])  # argparse formats the descriptions: '%' must not break it
    assert help_exit.value.code == 0
    return {"id": module.agent.agent_id, "instructions": module.agent.signature.instructions,
            "signature": module.agent.signature.to_dict()}


def _run(out: Path, cwd: Path, *, ways: int = 3) -> None:
    (cwd / "params.json").write_text(json.dumps({"question": "hello"}))
    runs = [[sys.executable, str(out / "workflow.py"), "--question", "hello", "--json"],
            [str(BIN / "kaizen-lab"), "run", str(out), "--input", "question=hello", "--json"],
            [str(BIN / "kailash"), "run", str(out / "workflow.py"), "-p", str(cwd / "params.json")]]
    for argv in runs[:ways]:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, (argv[1], proc.stderr[-2000:])
        assert "test answer" in proc.stdout, proc.stdout


def _no_file_created(root: Path) -> None:
    assert not [p for p in root.rglob("PWNED*")], "a payload ran"


@pytest.mark.slow
def test_payloads_in_every_field_round_trip_and_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent_id, instructions = PAYLOADS[2], "\n\n".join(PAYLOADS)
    cells = _api_cells(agent_id, instructions)
    namespace: dict[str, Any] = {}
    for cell in cells[:-1]:
        exec(cell, namespace)  # the notebook itself, run as a kernel would
    expected: Agent = namespace["qa"]
    nb = _write(tmp_path / NAME_PAYLOAD, cells, "\n".join(PAYLOADS))
    result = export_notebook(nb, tmp_path / "out")
    assert result.agent_id == agent_id
    assert "PWNED" in (tmp_path / "out" / "workflow.py").read_text()  # the payloads are there, as data
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _run(tmp_path / "out", run_dir)
    monkeypatch.chdir(run_dir)
    assert _describe(tmp_path / "out") == {"id": expected.agent_id, "instructions": expected.signature.instructions,
                                           "signature": expected.signature.to_dict()}
    _no_file_created(tmp_path)


@pytest.mark.slow
def test_payloads_in_agent_yaml_round_trip_and_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instructions = "\n\n".join(PAYLOADS)
    nb = _write(tmp_path / NAME_PAYLOAD, _magic_cells(instructions), PAYLOADS[0])
    result = export_notebook(nb, tmp_path / "out")
    assert [(c.number, c.reason) for c in result.left_out] == [(1, "markdown cell, not code"),
                                                                (2, "magic or shell lines only (%load_ext kaizen_lab)")]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _run(tmp_path / "out", run_dir, ways=1)
    monkeypatch.chdir(run_dir)
    expected = Agent("qa", _signature_text(), model="test", instructions=instructions)  # what %%agent builds
    assert _describe(tmp_path / "out") == {"id": "qa", "instructions": expected.signature.instructions,
                                           "signature": expected.signature.to_dict()}
    _no_file_created(tmp_path)


def _module_without_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``workflow.py`` with its ``_SPEC`` literal cut out, and the literal's value (read without running)."""
    import ast

    tree = ast.parse(text)
    spec = next(node for node in tree.body if isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "_SPEC")
    lines = text.splitlines(keepends=True)
    rest = "".join(lines[:spec.lineno - 1] + lines[spec.end_lineno or spec.lineno:])
    return rest, ast.literal_eval(spec.value)


@pytest.mark.parametrize("payload", ONE_LINE)
def test_model_names_and_mcp_commands_stay_inside_the_data_literal(tmp_path: Path, payload: str) -> None:
    import shlex

    from kaizen_lab.export import export_cells

    def export(model: str, mcp: str, name: str) -> Path:
        cells = ["%%signature QA\nquestion: str -> answer: str",
                 f"%agent qa QA --model {shlex.quote(model)} --mcp {shlex.quote(mcp)}"]
        export_cells(cells, tmp_path / name, source_name=mcp)
        return tmp_path / name / "workflow.py"

    hostile, plain = export(payload, payload, "hostile"), export("test", "server", "plain")
    hostile_rest, hostile_spec = _module_without_spec(hostile.read_text())
    plain_rest, _ = _module_without_spec(plain.read_text())
    assert hostile_rest == plain_rest  # outside the literal, the module does not depend on notebook text
    assert (hostile_spec["model"], hostile_spec["mcp_servers"], hostile_spec["source"]) == (payload, [payload],
                                                                                          payload)
