"""Notebooks export to runnable workflows; the export gives the notebook's result in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kaizen_lab.errors import UserError
from kaizen_lab.export import analyze_cells, export_cells, export_notebook, run_export

BIN = Path(sys.executable).parent
API_CELLS = [
    "from kaizen_lab.agents import Agent\nimport json",
    'SUFFIX = "!"\n\ndef shout(text: str) -> str:\n    """Shout a text."""\n    return text.upper() + SUFFIX',
    'qa = Agent("qa", "question: str -> answer: str, confidence: float", model="test", tools=[shout])',
    'result = qa.execute(question="hello")\nprint(json.dumps(result.data))',
    "qa.signature",
]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# An agent"), *(new_code_cell(c) for c in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def notebook_output(path: Path) -> dict:
    """Execute the notebook in a real kernel and read the JSON the result cell printed."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = [o["text"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("name") == "stdout"]
    return json.loads(printed[-1])


@pytest.mark.slow
def test_round_trip_python_and_kailash_run_match_the_notebook(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "agent.ipynb", API_CELLS)
    expected = notebook_output(nb)
    result = export_notebook(nb, tmp_path / "out")
    assert result.files == ["README.md", "kaizen.yaml", "workflow.json", "workflow.py"]
    # cells are numbered as the notebook shows them: the markdown cell is cell 1
    assert [(c.number, c.reason) for c in result.left_out] == [
        (1, "markdown cell, not code"),
        (2, "defines Agent, json, which the agent does not use"),
        (5, "runs or displays (result = qa.execute(question='hello'))"),
        (6, "runs or displays (qa.signature)"),
    ]
    assert result.skipped_cells == [1, 2, 5, 6]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "workflow.py", "--question", "hello", "--json"], cwd=out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
    (tmp_path / "params.json").write_text(json.dumps({"question": "hello"}))
    proc = subprocess.run([str(BIN / "kailash"), "run", str(out / "workflow.py"), "-p", str(tmp_path / "params.json")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"answer: {expected['answer']}" in proc.stdout and f"confidence: {expected['confidence']}" in proc.stdout
    proc = subprocess.run([str(BIN / "kaizen-lab"), "run", str(out), "--input", "question=hello", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_export_keeps_only_what_the_tools_need(tmp_path: Path) -> None:
    export_cells(API_CELLS, tmp_path / "out")
    module = (tmp_path / "out" / "workflow.py").read_text()
    # copied byte for byte, quotes and docstring as written
    assert 'SUFFIX = "!"' in module
    assert 'def shout(text: str) -> str:\n    """Shout a text."""\n    return text.upper() + SUFFIX' in module
    assert "qa.execute" not in module and "print(json.dumps(result.data))" not in module


def test_workflow_json_loads_with_workflow_from_dict(tmp_path: Path) -> None:
    from kailash.workflow.graph import Workflow

    from kaizen_lab.runtime import run_workflow

    export_cells(['from kaizen_lab.agents import Agent\nqa = Agent("qa", "question -> answer", model="test")'],
                 tmp_path / "out")
    spec = json.loads((tmp_path / "out" / "workflow.json").read_text())
    run = run_workflow(Workflow.from_dict(spec), {"question": "x"})
    assert run.results["output"] == {"answer": "test answer"}


def test_runtimes_local_and_async_agree(tmp_path: Path) -> None:
    export_cells(API_CELLS, tmp_path / "out")
    local = run_export(tmp_path / "out", {"question": "q"}, runtime="local")
    assert local == run_export(tmp_path / "out", {"question": "q"}, runtime="async")
    with pytest.raises(UserError, match="unknown runtime 'lokal' \\(did you mean 'local'\\?\\)"):
        run_export(tmp_path / "out", {"question": "q"}, runtime="lokal")


def test_existing_folder_needs_force_and_nothing_is_half_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty; pass --force"):
        export_cells(API_CELLS, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    export_cells(API_CELLS, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "kaizen.yaml", "workflow.json", "workflow.py"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_lambda_tool_is_refused_with_cell_number_and_reason(tmp_path: Path) -> None:
    cells = ["from kaizen_lab.agents import Agent",
             "shout = lambda text: text.upper()",
             'qa = Agent("qa", "question -> answer", model="test", tools=[shout])']
    with pytest.raises(UserError, match=r"cell 2: shout is a lambda.*define it with def"):
        export_cells(cells, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_live_object_used_by_a_tool_is_refused(tmp_path: Path) -> None:
    cells = ["import sqlite3\nfrom kaizen_lab.agents import Agent",
             'conn = sqlite3.connect(":memory:")',
             'def lookup(q: str) -> str:\n    """Look up."""\n    return str(conn.execute("select 1").fetchone())',
             'qa = Agent("qa", "question -> answer", model="test", tools=[lookup])']
    with pytest.raises(UserError, match=r"cell 2: conn = sqlite3.connect.*live object"):
        export_cells(cells, tmp_path / "out")


def test_model_object_is_refused(tmp_path: Path) -> None:
    cells = ["from kaizen_lab.agents import Agent\nfrom kaizen_lab.models import TestModel",
             'qa = Agent("qa", "question -> answer", model=TestModel())']
    with pytest.raises(UserError, match="model must be a string"):
        export_cells(cells, tmp_path / "out")


def test_a_secret_in_copied_code_refuses_the_export_with_cell_and_line(tmp_path: Path) -> None:
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    cells = ["from kaizen_lab.agents import Agent",
             f'import os\nTOKEN = "{key}"\n\ndef call(q: str) -> str:\n    """Call a service."""\n    return TOKEN[:2]',
             'qa = Agent("qa", "question -> answer", model="openai:gpt-4o-mini", tools=[call])']
    with pytest.raises(UserError, match=r"cell 2, line 2: a string holding a credential looks like a secret; "
                                        r"read it from an environment variable instead, os\.environ\[") as caught:
        export_cells(cells, tmp_path / "out")
    assert key not in str(caught.value)
    assert not (tmp_path / "out").exists()
    cells[1] = 'import os\nTOKEN = os.environ["SERVICE_TOKEN"]\n\ndef call(q: str) -> str:\n    return TOKEN[:2]'
    export_cells(cells, tmp_path / "out")
    assert "api_key_env: OPENAI_API_KEY" in (tmp_path / "out" / "kaizen.yaml").read_text()


def test_a_password_stored_under_a_secret_name_refuses_the_export(tmp_path: Path) -> None:
    cells = ['DB = {"user": "me", "password": "hunter2"}\n\ndef look(q: str) -> str:\n    return DB["user"]',
             'from kaizen_lab.agents import Agent\nqa = Agent("qa", "question -> answer", model="test", tools=[look])']
    with pytest.raises(UserError, match=r"cell 1, line 1: the text stored in 'password' looks like a secret"):
        export_cells(cells, tmp_path / "out")


def test_magic_cells_are_understood() -> None:
    plan = analyze_cells([
        "%load_ext kaizen_lab",
        '%%signature QA --instructions "Be brief."\nquestion: str  # the question\n->\nanswer: str',
        'def search(q: str) -> str:\n    """Search."""\n    return q',
        "%agent qa QA --model test --tools search",
        '%agent run qa question="hi"',
    ])
    assert plan.signatures["QA"][2] == "Be brief."
    agent = plan.agents["qa"]
    assert (agent.signature_ref, agent.model, agent.tools) == ("QA", "test", ["search"])
    assert [d.names for d in plan.needed_definitions(agent)] == [{"search"}]


def test_cli_export_reports_what_it_wrote(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "agent.ipynb", API_CELLS)
    proc = subprocess.run([str(BIN / "kaizen-lab"), "export", str(nb), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "exported agent 'qa'" in proc.stdout
    assert "left out 4 cell(s):\n  cell 1: markdown cell, not code\n  cell 2: defines Agent, json" in proc.stdout


def test_mcp_servers_are_reconnected_by_the_exported_module(tmp_path: Path) -> None:
    cells = ['%%signature QA\nquestion: str -> answer: str',
             '%agent qa QA --model test --mcp "python examples/mcp_servers/calc_notes.py"']
    export_cells(cells, tmp_path / "out")
    module = (tmp_path / "out" / "workflow.py").read_text()
    assert "'mcp_servers': ['python examples/mcp_servers/calc_notes.py']" in module
    assert "mcp_servers:\n- python examples/mcp_servers/calc_notes.py" in (tmp_path / "out" / "kaizen.yaml").read_text()


SIGNER = '''import hashlib
import os


def sign(question: str) -> str:
    """Sign a question (ordinary code that mentions secret-sounding words)."""
    token = question.upper
    headers = {"Authorization": "Bearer " + os.environ.get("SERVICE_TOKEN", "none")}
    password = os.environ.get("SERVICE_PASSWORD", "")  # the password comes from the environment
    digest = hashlib.sha256(question.encode()).hexdigest()
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of ''
    return f"{token()}|{headers['Authorization'][:6]}|{len(password)}|{digest == empty}|{digest[:8]}"
'''


def test_tool_code_mentioning_token_authorization_password_and_a_digest_is_copied_and_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = [SIGNER, 'from kaizen_lab.agents import Agent\nqa = Agent("qa", "question -> answer", model="test", '
                     'tools=[sign])']
    export_cells(cells, tmp_path / "out")
    module_text = (tmp_path / "out" / "workflow.py").read_text()
    assert SIGNER.split("\n\n\n")[1].rstrip("\n") in module_text  # the function, byte for byte
    assert "[REDACTED]" not in module_text
    notebook: dict = {}
    exec(SIGNER, notebook)
    monkeypatch.chdir(tmp_path)
    from kaizen_lab.export import load_export

    module = load_export(tmp_path / "out")
    assert module.sign("") == notebook["sign"]("") == "|Bearer|0|True|e3b0c442"
    result = module.agent.run_workflow(question="abc")  # the test model calls every tool once
    assert result["answer"] == "test answer"
    calls = [(e.tool, e.error, e.result_preview) for e in result.events if e.kind == "tool_called"]
    assert calls == [("sign", None, notebook["sign"]("test question"))]  # the test model's argument


def test_readme_is_markdown_with_headings_and_lists_exactly_the_left_out_cells(tmp_path: Path) -> None:
    import mistune

    cells = ["%load_ext kaizen_lab",
             '%%signature QA --instructions "Be brief."\nquestion: str  # the question\n->\nanswer: str  # short',
             "def unused(x: int) -> int:\n    return x",
             "%agent qa QA --model test",
             '%agent run qa question="hi"']
    nb = nbformat.v4.new_notebook(cells=[new_markdown_cell("# Intro"), new_code_cell(cells[0]),
                                         new_markdown_cell("Define the signature:"), new_code_cell(cells[1]),
                                         new_code_cell(cells[2]), nbformat.v4.new_raw_cell("raw"),
                                         new_code_cell(cells[3], execution_count=4), new_code_cell(cells[4])])
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    result = export_notebook(tmp_path / "nb.ipynb", tmp_path / "out")
    expected = [(1, "cell 1", "markdown cell, not code"),
                (2, "cell 2", "magic or shell lines only (%load_ext kaizen_lab)"),
                (3, "cell 3", "markdown cell, not code"),
                (5, "cell 5", "defines unused, which the agent does not use"),
                (6, "cell 6", "raw cell, not code"),
                (8, "cell 8", "magic or shell lines only (%agent run qa question=\"hi\")")]
    assert [(c.number, c.label, c.reason) for c in result.left_out] == expected
    readme = (tmp_path / "out" / "README.md").read_text()
    tokens = mistune.create_markdown(renderer=None)(readme)
    headings = [t["children"][0]["raw"] for t in tokens if t["type"] == "heading"]
    assert headings == ["Agent ", "Signature", "Run it", "Files", "Left out of the export"]
    assert [t["attrs"]["info"] for t in tokens if t["type"] == "block_code"] == ["text", "bash"]
    signature_block = next(t["raw"] for t in tokens if t["type"] == "block_code")
    assert signature_block == "question: str  # the question\n->\nanswer: str  # short\n"
    left = [t for t in tokens if t["type"] == "list"][-1]
    items = ["".join(c.get("raw", "") for c in item["children"][0]["children"]) for item in left["children"]]
    assert items == [f"{label}: {reason}" for _, label, reason in expected]
    assert not any(line.startswith("    ") for line in readme.splitlines())


def test_cells_are_labelled_with_their_execution_count_when_the_notebook_has_one(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[new_markdown_cell("x"), new_code_cell("1 + 1", execution_count=7),
                                         new_code_cell('from kaizen_lab.agents import Agent\nqa = Agent("qa", "q -> a")',
                                                       execution_count=8)])
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    result = export_notebook(tmp_path / "nb.ipynb", tmp_path / "out")
    assert [str(c) for c in result.left_out] == ["cell 1: markdown cell, not code",
                                                 "cell 2 (In [7]): runs or displays (1 + 1)"]


def test_tokenizer_markers_and_plain_words_under_secret_names_are_not_secrets(tmp_path: Path) -> None:
    cells = ['PAD = {"pad_token": "<pad>", "auth": "basic"}\nunk_token = "[UNK]"\n\n'
             'def mark(q: str) -> str:\n    return PAD["pad_token"] + unk_token + q',
             'from kaizen_lab.agents import Agent\nqa = Agent("qa", "q -> a", model="test", tools=[mark])']
    export_cells(cells, tmp_path / "out")
    assert 'PAD = {"pad_token": "<pad>", "auth": "basic"}' in (tmp_path / "out" / "workflow.py").read_text()


def test_definitions_are_copied_byte_for_byte(tmp_path: Path) -> None:
    tool = ('# Greets people: the comment block above a definition travels with it\r\n'
            '@staticmethod.__func__ if False else (lambda f: f)\r\n'
            'def greet(name: str) -> str:  # «ünïcode» stays\r\n'
            "    '''Greet.'''\r\n"
            '    return f"héllo {name}"  # trailing comment stays\r\n')
    cells = ["import os\r\nSEP = ' · '; unused = 1  # two statements on one line\r\n",
             tool + "\r\nprint(greet('x'))\r\n",
             'from kaizen_lab.agents import Agent\nqa = Agent("qa", "q -> a", model="test", tools=[greet])']
    export_cells(cells, tmp_path / "out")
    module = (tmp_path / "out" / "workflow.py").read_bytes().decode("utf-8")
    assert tool.rstrip("\r\n") in module
    assert "print(greet" not in module and "unused = 1" not in module


def test_a_signature_with_notebook_types_exports_and_the_readme_names_its_first_input(tmp_path: Path) -> None:
    cells = ["import pydantic\n\nclass Ticket(pydantic.BaseModel):\n    title: str",
             'from kaizen_lab.agents import Agent\nqa = Agent("qa", "ticket: Ticket, n: int -> answer: list[Ticket]",'
             ' model="test")']
    export_cells(cells, tmp_path / "out")
    assert "class Ticket(pydantic.BaseModel):" in (tmp_path / "out" / "workflow.py").read_text()
    assert 'python workflow.py --ticket "..." --json' in (tmp_path / "out" / "README.md").read_text()
