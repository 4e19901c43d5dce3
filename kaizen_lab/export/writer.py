"""Write an export: ``workflow.py``, ``workflow.json``, ``kaizen.yaml`` and ``README.md``.

Everything is written into a temporary folder beside ``OUT`` and moved into place at the end, so a refused or
failed export leaves nothing half-written. Secrets never reach the files: API keys are named by their
environment variable only, and every file is passed through the redactor before it is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaizen_lab.errors import UserError
from kaizen_lab.export.analyze import AgentDef, ExportPlan, analyze_cells, check_agent

__all__ = ["ExportResult", "export_cells", "export_notebook", "read_notebook_cells"]

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "ollama": None, "test": None,
            "local": None}


@dataclass(frozen=True)
class ExportResult:
    out: Path
    agent_id: str
    files: list[str]
    skipped_cells: list[int]
    definitions: int


def read_notebook_cells(path: str | os.PathLike[str]) -> list[str]:
    """The code cells of a notebook, in order (markdown and raw cells are not code)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise UserError(f"no notebook at {str(path)!r}") from None
    except Exception as exc:  # noqa: BLE001 - nbformat raises several unrelated types for a bad file
        raise UserError(f"{str(path)!r} is not a readable notebook: {exc}") from None
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def export_notebook(path: str | os.PathLike[str], out: str | os.PathLike[str], *, agent_id: str | None = None,
                    force: bool = False) -> ExportResult:
    """Export the agent defined in notebook ``path`` into folder ``out``."""
    return export_cells(read_notebook_cells(path), out, agent_id=agent_id, force=force,
                        source_name=Path(path).name)


def export_cells(cells: Sequence[str], out: str | os.PathLike[str], *, agent_id: str | None = None,
                 force: bool = False, source_name: str = "a notebook") -> ExportResult:
    """Export the agent defined by ``cells`` (code cell sources) into folder ``out``."""
    target = Path(out)
    if target.exists() and any(target.iterdir()) and not force:
        raise UserError(f"{str(target)!r} already exists and is not empty; pass --force (force=True) to replace it")
    plan = analyze_cells(cells)
    agent = check_agent(plan, agent_id)
    needed = plan.needed_definitions(agent)
    problems: list[str] = [str(p) for p in plan.problems if p.cell in {agent.cell} or agent.agent_id in p.reason]
    problems += [_problem(d) for d in needed if d.problem]
    missing_tools = [t for t in agent.tools if not any(t in d.names and d.kind == "function" for d in needed)]
    if missing_tools:
        problems.append(f"cell {agent.cell}: tool(s) {missing_tools} are not functions defined with def in the "
                        "notebook")
    signature_text, instructions = _signature_of(plan, agent)
    if problems:
        raise UserError("cannot export agent {!r}:\n  {}".format(agent.agent_id, "\n  ".join(map(str, problems))))
    files = _render(agent, signature_text, instructions, needed, source_name)
    _check_runs(files["workflow.py"], target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(target, agent.agent_id, sorted(files), plan.skipped_cells, len(needed))


def _problem(definition: Any) -> str:
    return f"cell {definition.cell}: {definition.problem}"


def _signature_of(plan: ExportPlan, agent: AgentDef) -> tuple[str, str | None]:
    if agent.signature is not None:
        return agent.signature, agent.instructions
    if agent.signature_ref and agent.signature_ref in plan.signatures:
        _, text, instr = plan.signatures[agent.signature_ref]
        return text, agent.instructions or instr
    raise UserError(f"agent {agent.agent_id!r} (cell {agent.cell}) uses signature {agent.signature_ref!r}, which no "
                    "%%signature cell or string defines")


def _model_env(model: str | None) -> str | None:
    provider = (model or "local").split(":", 1)[0]
    return _KEY_ENV.get(provider)


def _render(agent: AgentDef, signature_text: str, instructions: str | None, needed: Sequence[Any],
            source_name: str) -> dict[str, str]:
    from kaizen_lab.security.redact import redact_text

    model = agent.model or "local"
    definitions = "\n\n".join(d.source for d in needed)
    tools = ", ".join(agent.tools)
    # MCP servers (stdio commands or URLs) are reconnected when the workflow module loads
    mcp_line = f"agent.connect_to_mcp_servers({list(agent.mcp)!r})\n" if agent.mcp else ""
    module = f'''\
"""Agent {agent.agent_id!r}, exported from {source_name} by kaizen-lab.

Run it:
    python workflow.py --{_first_input(signature_text)} "..."        (add --json for JSON output)
    kaizen-lab run . --input {_first_input(signature_text)}="..."
    kailash run workflow.py -p params.json
The model comes from kaizen.yaml beside this file (default_model), or KAIZEN_DEFAULT_MODEL.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

{definitions}

from kaizen_lab.agents import Agent
from kaizen_lab.signatures import Signature

# ``kailash run`` executes this file without __file__; find it on the command line then
_FILE = globals().get("__file__") or next((a for a in sys.argv if a.endswith(".py")), "workflow.py")
HERE = Path(_FILE).resolve().parent
CONFIG = yaml.safe_load((HERE / "kaizen.yaml").read_text()) if (HERE / "kaizen.yaml").exists() else {{}}
SIGNATURE = Signature.parse({signature_text!r}, globals(), instructions={instructions!r})
MODEL = os.environ.get("KAIZEN_DEFAULT_MODEL") or CONFIG.get("default_model") or {model!r}
agent = Agent({agent.agent_id!r}, SIGNATURE, model=MODEL, tools=[{tools}],
              max_retries={int(agent.options.get("max_retries", 2))})
{mcp_line}workflow = agent.to_workflow().build()


def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run agent {agent.agent_id!r}.")
    for field in SIGNATURE.input_fields:
        parser.add_argument("--" + field.name, required=field.required, help=field.description or field.type_text)
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON")
    args = parser.parse_args(argv)
    inputs = {{f.name: _value(getattr(args, f.name)) if f.annotation is not str else getattr(args, f.name)
              for f in SIGNATURE.input_fields if getattr(args, f.name) is not None}}
    result = agent.run_workflow(**inputs)
    if args.json:
        print(json.dumps(result.to_dict()["outputs"]))
    else:
        for name, value in result.items():
            print(f"{{name}}: {{value}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
    config: dict[str, Any] = {"agent_id": agent.agent_id, "default_model": model,
                              "signature": signature_text, "instructions": instructions, "tools": list(agent.tools),
                              "mcp_servers": list(agent.mcp)}
    key_env = _model_env(model)
    if key_env:
        config["api_key_env"] = key_env  # the variable's name only, never its value
    import yaml

    readme = textwrap.dedent(f"""\
        # Agent `{agent.agent_id}`

        Exported from {source_name} by kaizen-lab. Signature:

        ```
        {signature_text.strip()}
        ```

        Run it:

        ```bash
        python workflow.py --{_first_input(signature_text)} "..." --json
        kaizen-lab run . --input {_first_input(signature_text)}="..."
        kailash run workflow.py -p params.json   # params.json: {{"{_first_input(signature_text)}": "..."}}
        ```

        `workflow.json` is the Kailash `Workflow.to_dict()` spec; load it with `Workflow.from_dict` after
        `import kaizen_lab.runtime` (tools are Python functions, so an agent with tools runs from `workflow.py`).
        The model is `default_model` in `kaizen.yaml`{f"; it reads its key from `{key_env}`" if key_env else ""}.
        """)
    files = {"workflow.py": module, "kaizen.yaml": yaml.safe_dump(config, sort_keys=False),
             "README.md": readme}
    files["workflow.json"] = _workflow_json(agent, signature_text, instructions, model)
    return {name: redact_text(text) for name, text in files.items()}


def _first_input(signature_text: str) -> str:
    from kaizen_lab.signatures.grammar import parse_signature_text

    try:
        parsed = parse_signature_text(signature_text, _AnyNamespace())
    except Exception:  # noqa: BLE001 - only used for the usage line
        return "question"
    return parsed.inputs[0].name if parsed.inputs else "question"


class _AnyNamespace(dict):  # type: ignore[type-arg]
    """Resolves any unknown type name to ``object`` (the README only needs field names)."""

    def __contains__(self, key: object) -> bool:
        from kaizen_lab.signatures.grammar import BUILTIN_TYPES

        return isinstance(key, str) and key[:1].isupper() and key not in BUILTIN_TYPES

    def __getitem__(self, key: str) -> Any:
        return object


def _workflow_json(agent: AgentDef, signature_text: str, instructions: str | None, model: str) -> str:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

    try:
        signature = Signature.parse(signature_text, _AnyNamespace(), instructions=instructions)
    except Exception:  # noqa: BLE001 - user types are resolved when workflow.py runs
        signature = None
    if signature is None:
        return json.dumps({"note": "the signature uses notebook types; run workflow.py"}, indent=2)
    spec = Agent(agent.agent_id, signature, model=model).to_workflow().build().to_dict()
    for node in spec["nodes"].values():
        node["config"].pop("kaizen_agent_ref", None)
    return json.dumps(spec, indent=2, default=str)


def _check_runs(module_text: str, target: Path) -> None:
    """Compile the generated module so a syntax problem is reported before anything is written."""
    try:
        compile(module_text, str(target / "workflow.py"), "exec")
    except SyntaxError as exc:
        raise UserError(f"the exported workflow.py would not compile ({exc.msg} at line {exc.lineno}); "
                        "this is a bug in the export, please report it with the notebook") from None
