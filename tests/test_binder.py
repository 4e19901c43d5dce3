"""Binder: the pins meet pyproject.toml and resolve together with repo2docker's base; postBuild fails loudly."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.test_packaging import _env

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
# repo2docker's Python 3.11 base environment (buildpacks/conda/environment.py-3.11-linux-64.lock): the packages
# binder/requirements.txt does not replace must still be satisfied by what it installs.
BASE_PACKAGES = ["jupyterhub==5.4.0", "jupyter-resource-usage==1.2.0", "jupyter-offlinenotebook==0.3.2"]


def _pins() -> dict[str, Requirement]:
    pins = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", f"not a pin: {line}"
            pins[canonicalize_name(req.name)] = req
    return pins


def _extras() -> list[str]:
    match = re.search(r'^EXTRAS="([^"]+)"', (BINDER / "postBuild").read_text(), re.M)
    assert match, "postBuild names its extras in EXTRAS=\"...\""
    return match.group(1).split(",")


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in _extras():
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    env = default_environment()
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


def test_every_requirement_of_the_binder_extras_is_pinned_within_pyproject() -> None:
    pins = _pins()
    problems = []
    for req in _project_requirements():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not pinned in binder/requirements.txt")
            continue
        version = next(iter(pin.specifier)).version
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"binder pins {pin} but pyproject.toml requires {req}")
    assert not problems, "\n".join(problems)
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_notebook_is_pinned_beside_jupyterlab() -> None:
    # the base's notebook 7.4 requires jupyterlab < 4.5: pinning jupyterlab alone breaks Notebook 7 on Binder
    pins = _pins()
    assert "notebook" in pins and "jupyterlab" in pins


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pins_resolve_together_with_the_base_environment(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    reqs = [str(r) for r in _pins().values()] + [str(r) for r in _project_requirements()] + BASE_PACKAGES
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--report", str(report), *reqs]
    result = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=880)
    assert result.returncode == 0, f"the pins do not resolve together:\n{result.stderr[-4000:]}"
    resolved = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    for name, pin in _pins().items():
        assert resolved.get(name) == next(iter(pin.specifier)).version, (name, resolved.get(name))


# ---- postBuild ------------------------------------------------------------------------------------------------

def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _post_build(tmp_path: Path, *, pip_fails: str = "", extension_line: str) -> subprocess.CompletedProcess[str]:
    """Run binder/postBuild with python/jupyter/kaizen-lab/npm replaced by scripts that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    _stub(bin_dir, "python", f'echo "python $*" >> {log}\n'
                             f'if [ -n "{pip_fails}" ] && [[ "$*" == *"{pip_fails}"* ]]; then exit 1; fi')
    _stub(bin_dir, "jupyter", f'echo "jupyter $*" >> {log}\nprintf "%b\\n" "{extension_line}"')
    _stub(bin_dir, "kaizen-lab", f'echo "kaizen-lab $*" >> {log}')
    _stub(bin_dir, "npm", "exit 0")
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(["bash", str(BINDER / "postBuild")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


OK_LINE = "        jupyterlab-kaizen v0.1.0 \\033[32menabled\\033[0m \\033[32mOK\\033[0m (python, kaizen_lab)"


def test_post_build_installs_everything_and_checks_it(tmp_path: Path) -> None:
    result = _post_build(tmp_path, extension_line=OK_LINE)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert f'python -m pip install --no-cache-dir .[{",".join(_extras())}]' in calls
    assert "python -m pip check" in calls and "jupyter labextension list" in calls and "kaizen-lab doctor" in calls
    assert "-e" not in calls.split(), "no editable fallback without the extension"


@pytest.mark.parametrize(("pip_fails", "line", "why"), [
    ("install --no-cache-dir .[", OK_LINE, "could not install kaizen-lab"),
    ("pip check", OK_LINE, "installed packages conflict"),
    ("", "        anywidget v0.11.0 enabled OK", "jupyterlab-kaizen extension is not installed"),
    ("", "        jupyterlab-kaizen v0.1.0 disabled OK", "jupyterlab-kaizen extension is not installed"),
])
def test_post_build_fails_loudly(tmp_path: Path, pip_fails: str, line: str, why: str) -> None:
    result = _post_build(tmp_path, pip_fails=pip_fails, extension_line=line)
    assert result.returncode != 0
    assert "postBuild: FAILED" in result.stderr and why in result.stderr, result.stderr
