"""The normal Python way works: a clean copy builds an sdist and a wheel (no make, no ``jupyter`` on PATH) and that
wheel, installed with pip alone into a fresh venv, gives a working package, CLI and JupyterLab extension."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTENSION_FILE = "share/jupyter/labextensions/jupyterlab-kaizen/package.json"


def _clean_copy(dest: Path) -> Path:
    """The files of a fresh clone (tracked, plus new files not ignored): no .venv, node_modules or build/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def _env(tmp: Path) -> dict[str, str]:
    """A PATH with the system tools only (node, npm, git; no venv, so no ``jupyter``) and the shared caches."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "jupyter").exists() and not (Path(d) / "activate").exists()]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(dirs)
    assert shutil.which("jupyter", path=env["PATH"]) is None
    # pip's and npm's download caches of the account (the suite's HOME is temporary), so reruns need no downloads
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    env.setdefault("PIP_CACHE_DIR", str(real_home / ".cache" / "pip"))
    env.setdefault("npm_config_cache", str(real_home / ".npm"))
    env["PIP_NO_INPUT"] = "1"
    env["TMPDIR"] = str(tmp)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def _readme_quickstart() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Quickstart has no python block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_clean_copy_builds_a_wheel_that_pip_alone_installs(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("this test copies the repository's files with git; run it from a git checkout")
    src = _clean_copy(tmp_path / "src")
    assert not (src / "build").exists() and not (src / "extensions/jupyterlab-kaizen/node_modules").exists()
    env = _env(tmp_path)
    python = sys.executable  # `-m venv` from a venv makes a venv of the base interpreter

    # build: a fresh venv with `build` only; the build requirements come from pyproject.toml
    _run([python, "-m", "venv", str(tmp_path / "build-venv")], env, tmp_path)
    build_py = str(tmp_path / "build-venv" / "bin" / "python")
    _run([build_py, "-m", "pip", "install", "--quiet", "build"], env, tmp_path)
    _run([build_py, "-m", "build", "--outdir", str(tmp_path / "dist"), str(src)], env, tmp_path)
    wheels = list((tmp_path / "dist").glob("kaizen_lab-*.whl"))
    sdists = list((tmp_path / "dist").glob("kaizen_lab-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list((tmp_path / "dist").iterdir())
    with zipfile.ZipFile(wheels[0]) as whl:
        names = whl.namelist()
    assert any(n.endswith(".data/data/" + EXTENSION_FILE) for n in names), "the wheel lacks the prebuilt extension"
    assert any("/static/remoteEntry." in n for n in names)
    with tarfile.open(sdists[0]) as sdist:
        members = sdist.getnames()
    assert any(m.endswith("/build/labextension/package.json") for m in members), "the sdist lacks the extension"
    assert not any("/node_modules/" in m for m in members)

    # install: a second fresh venv, pip alone
    _run([python, "-m", "venv", str(tmp_path / "venv")], env, tmp_path)
    bin_dir = tmp_path / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"{wheels[0]}[notebook]"], env, tmp_path)
    run_env = {**env, "PATH": os.pathsep.join([str(bin_dir), env["PATH"]])}
    work = tmp_path / "work"
    work.mkdir()

    quickstart = _readme_quickstart() + "\nprint('ANSWER', type(result.answer).__name__, type(result.confidence).__name__)\n"
    out = _run([str(bin_dir / "python"), "-c", quickstart], run_env, work)
    assert "ANSWER str float" in out, out

    doctor = _run([str(bin_dir / "kaizen-lab"), "doctor"], run_env, work)
    assert doctor.startswith("kaizen-lab 0.1.0") and "ok notebook" in doctor, doctor

    listed = _run([str(bin_dir / "jupyter"), "labextension", "list"], run_env, work)
    line = next((ln for ln in listed.splitlines() if "jupyterlab-kaizen" in ln), "")
    assert re.search(r"jupyterlab-kaizen v\S+ .*enabled.*OK.*\(python, kaizen_lab\)", re.sub(r"\x1b\[[0-9;]*m", "", line)), \
        listed
    assert str(tmp_path / "venv") in listed, "the extension must come from the new venv"
