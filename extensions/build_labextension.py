"""Build the JupyterLab extension for a wheel or sdist: ``python -m build`` / ``pip wheel .`` call this.

hatch-jupyter-builder runs ``build`` (pyproject.toml, ``build-function``) inside the isolated build
environment, whose ``jupyterlab`` is declared in ``[build-system] requires``. Nothing needs to be on PATH
beforehand except ``node``/``npm``: the core package metadata is copied from that ``jupyterlab`` (the build needs
no download for it), the TypeScript is compiled with the locked npm packages, and the federated extension is
bundled by ``jupyterlab``'s own builder, called in-process (no ``jupyter`` command needed).

``make extension`` keeps its own incremental path; ``python extensions/build_labextension.py core-meta`` is the
one place that writes ``core-meta/core.package.json`` for both.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXTENSION = HERE / "jupyterlab-kaizen"
CORE_META = EXTENSION / "core-meta" / "core.package.json"


class ExtensionBuildError(RuntimeError):
    """The extension cannot be built here; the message names what to install."""


def write_core_meta(extension: Path = EXTENSION) -> Path:
    """Copy the installed JupyterLab's core package metadata where ``@jupyterlab/core-meta`` points."""
    try:
        import jupyterlab
    except ImportError as exc:
        raise ExtensionBuildError(
            "building the JupyterLab extension needs the jupyterlab package (declared in pyproject.toml's "
            "[build-system] requires; install it with `pip install jupyterlab` when building without isolation)"
        ) from exc
    source = Path(jupyterlab.__file__).parent / "staging" / "package.json"
    if not source.is_file():
        raise ExtensionBuildError(f"{source} is missing: reinstall jupyterlab (`pip install --force-reinstall jupyterlab`)")
    target = extension / "core-meta" / "core.package.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionBuildError(
            "building the JupyterLab extension needs node and npm (Debian: `apt-get install -y nodejs npm`); "
            "or build from an sdist, which carries the prebuilt extension")
    return npm


def _run(cmd: list[str], cwd: Path) -> None:
    logging.getLogger(__name__).info("> %s", " ".join(cmd))
    result = subprocess.run(cmd, cwd=cwd, stdout=sys.stderr, stderr=sys.stderr)
    if result.returncode != 0:
        raise ExtensionBuildError(f"`{' '.join(cmd)}` failed in {cwd} (exit {result.returncode}); see its output above")


def build(target_name: str, version: str, path: str = str(EXTENSION), **_: object) -> None:
    """hatch-jupyter-builder build function: core metadata, ``npm ci``, ``tsc``, then the federated bundle."""
    extension = Path(path).resolve()
    core_meta = write_core_meta(extension)
    npm = _npm()
    lock, installed = extension / "package-lock.json", extension / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], extension)
    _run([npm, "run", "--silent", "build:lib"], extension)

    from jupyter_builder.federated_extensions import build_labextension  # jupyterlab's own builder

    build_labextension(str(extension), logger=logging.getLogger(__name__), development=version == "editable",
                       core_package_file=str(core_meta))


if __name__ == "__main__":
    if sys.argv[1:] == ["core-meta"]:
        print(write_core_meta())
    else:
        sys.exit("usage: python extensions/build_labextension.py core-meta")
