"""Run an export folder: ``kaizen-lab run OUT --input question="..." [--runtime local|async|distributed]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from kaizen_lab._cli_inputs import parse_input_pairs
from kaizen_lab.errors import UserError

__all__ = ["build_exported_agent", "cli_command", "export_command", "exported_main", "load_export", "run_export"]

RUNTIMES = ("local", "async", "distributed")


def build_exported_agent(spec: Mapping[str, Any], namespace: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Build an exported agent from its ``_SPEC`` data and the module's globals (the copied definitions).

    ``workflow.py`` calls this; the model is ``KAIZEN_DEFAULT_MODEL``, else ``default_model`` in the
    ``kaizen.yaml`` beside the file, else the notebook's. Returns ``(agent, signature, workflow)``.
    """
    from kaizen_lab._yaml import load_yaml
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

    # ``kailash run`` executes the file without __file__; find it on the command line then
    file = namespace.get("__file__") or next((a for a in sys.argv if a.endswith(".py")), "workflow.py")
    config_path = Path(file).resolve().parent / "kaizen.yaml"
    config: Any = {}
    if config_path.is_file():
        config = load_yaml(config_path.read_text(encoding="utf-8"), where=str(config_path)) or {}
        if not isinstance(config, dict):
            raise UserError(f"{str(config_path)!r} must be a mapping such as 'default_model: test'")
    model = os.environ.get("KAIZEN_DEFAULT_MODEL") or config.get("default_model") or spec["model"]
    missing = [name for name in spec["tools"] if not callable(namespace.get(name))]
    if missing:
        raise UserError(f"the export's tool(s) {missing} are not defined in workflow.py; export the notebook again")
    signature = Signature.parse(spec["signature"], namespace, instructions=spec["signature_instructions"])
    agent = Agent(spec["agent_id"], signature, model=model, instructions=spec["instructions"],
                  tools=[namespace[name] for name in spec["tools"]], **spec["options"])
    if spec["mcp_servers"]:
        agent.connect_to_mcp_servers(list(spec["mcp_servers"]))
    return agent, signature, agent.to_workflow().build()


def exported_main(agent: Any, argv: Sequence[str] | None = None) -> int:
    """``python workflow.py --FIELD VALUE ... [--json]``: run the exported agent once and print its outputs."""
    from kaizen_lab.errors import KaizenError

    parser = argparse.ArgumentParser(description="Run the exported kaizen-lab agent (see README.md).")
    for f in agent.signature.input_fields:
        help_text = f.description or f.type_text
        parser.add_argument("--" + f.name, required=f.required, help=help_text.replace("%", "%%"))
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON")
    args = parser.parse_args(argv)
    inputs = {f.name: _value(getattr(args, f.name)) if f.annotation is not str else getattr(args, f.name)
              for f in agent.signature.input_fields if getattr(args, f.name) is not None}
    try:
        result = agent.run_workflow(**inputs)
    except KaizenError as exc:
        print(f"{agent.agent_id}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict()["outputs"]))
    else:
        for name, value in result.items():
            print(f"{name}: {value}")
    return 0


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_export(out: str | Path) -> ModuleType:
    """Import ``OUT/workflow.py`` as a module (its agent and workflow are built on import)."""
    path = Path(out) / "workflow.py"
    if not path.exists():
        raise UserError(f"{str(out)!r} is not an export folder (no workflow.py); create one with "
                        "kaizen-lab export NOTEBOOK.ipynb -o OUT")
    spec = importlib.util.spec_from_file_location(f"kaizen_export_{abs(hash(str(path.resolve())))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_export(out: str | Path, inputs: Mapping[str, Any], *, runtime: str = "local",
               redis_url: str | None = None) -> dict[str, Any]:
    """Run the exported workflow on ``runtime`` and return the outputs."""
    if runtime not in RUNTIMES:
        from kaizen_lab.errors import did_you_mean

        raise UserError(f"unknown runtime {runtime!r}{did_you_mean(runtime, RUNTIMES)}; choose one of {RUNTIMES}")
    module = load_export(out)
    if runtime == "local":
        return dict(module.agent.run_workflow(**inputs).data)
    if runtime == "async":
        from kaizen_lab.runtime.execute import arun_workflow

        run = asyncio.run(arun_workflow(module.workflow, inputs))
        return dict(run.results["output"])
    try:
        from kaizen_lab.integrations.distributed import run_distributed
    except ImportError as exc:
        raise UserError(f"the distributed runtime is not available here: {exc}") from None
    if not redis_url:
        raise UserError("--runtime distributed needs --redis URL (e.g. redis://127.0.0.1:6379/0) and running "
                        "workers: kaizen-lab worker --redis URL")
    return dict(run_distributed(module.workflow, inputs, redis_url=redis_url)["output"])


def cli_command(argv: Sequence[str]) -> int:
    """``kaizen-lab run OUT --input NAME=VALUE ... [--runtime local|async|distributed] [--json]``."""
    parser = argparse.ArgumentParser(prog="kaizen-lab run", description="Run an exported workflow.")
    parser.add_argument("out", help="the export folder (holding workflow.py)")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--runtime", default="local", choices=RUNTIMES)
    parser.add_argument("--redis", default=None, help="Redis URL for --runtime distributed")
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON")
    args = parser.parse_args(list(argv))
    outputs = run_export(args.out, parse_input_pairs(args.input), runtime=args.runtime, redis_url=args.redis)
    if args.json:
        print(json.dumps(outputs, default=str))
    else:
        for name, value in outputs.items():
            print(f"{name}: {value}")
    return 0


def export_command(argv: Sequence[str]) -> int:
    """``kaizen-lab export NOTEBOOK.ipynb -o OUT [--agent NAME] [--force]``."""
    from kaizen_lab.export.writer import export_notebook

    parser = argparse.ArgumentParser(prog="kaizen-lab export",
                                     description="Export a notebook's agent as a runnable workflow.")
    parser.add_argument("notebook")
    parser.add_argument("-o", "--out", required=True, help="the folder to write")
    parser.add_argument("--agent", default=None, help="which agent (default: the last one defined)")
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    args = parser.parse_args(list(argv))
    result = export_notebook(args.notebook, args.out, agent_id=args.agent, force=args.force)
    print(result.report())
    return 0
