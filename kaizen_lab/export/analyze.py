"""Read a notebook's cells and find what an agent needs: signatures, agents, tools and the code they use.

Pure: cell sources in, an ``ExportPlan`` out. Magics are read by their syntax (``%%signature NAME``,
``%agent NAME SIG --model M --tools f,g``, ``%%agent NAME`` with a YAML body); Python cells are read with
``ast``. A dependency walk keeps only the definitions the tools and types need; cells that only display or
explore are left out. Anything that cannot be exported is reported with its cell number and the reason.
"""

from __future__ import annotations

import ast
import builtins
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kaizen_lab.errors import UserError

__all__ = ["AgentDef", "Definition", "ExportPlan", "ExportProblem", "analyze_cells"]

_AGENT_CALLS = {"Agent", "create_agent"}
_BUILTINS = set(dir(builtins))


@dataclass(frozen=True)
class ExportProblem:
    cell: int
    reason: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.reason}"


@dataclass
class Definition:
    """A top-level statement that binds names (import, def, class, assignment)."""

    cell: int
    names: set[str]
    source: str
    uses: set[str]
    kind: str
    problem: str | None = None


@dataclass
class AgentDef:
    cell: int
    agent_id: str
    signature: str | None = None
    signature_ref: str | None = None
    instructions: str | None = None
    model: str | None = None
    tools: list[str] = field(default_factory=list)
    mcp: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportPlan:
    signatures: dict[str, tuple[int, str, str | None]]
    agents: dict[str, AgentDef]
    definitions: list[Definition]
    problems: list[ExportProblem]
    skipped_cells: list[int]

    def needed_definitions(self, agent: AgentDef) -> list[Definition]:
        """The definitions ``agent``'s tools and types need, in notebook order (transitively)."""
        by_name: dict[str, Definition] = {}
        for d in self.definitions:
            for n in d.names:
                by_name[n] = d  # later cells win, as in the notebook
        wanted = list(agent.tools)
        sig_text = agent.signature or (self.signatures[agent.signature_ref][1] if agent.signature_ref in
                                       self.signatures else "")
        wanted += [n.id for n in ast.walk(ast.parse(_names_only(sig_text))) if isinstance(n, ast.Name)]
        keep: list[Definition] = []
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen:
                continue
            seen.add(name)
            found = by_name.get(name)
            if found is None or found in keep:
                continue
            keep.append(found)
            wanted.extend(found.uses)
        return sorted(keep, key=lambda d: self.definitions.index(d))


def _names_only(signature_text: str) -> str:
    """Type names of a signature as a Python expression list (for dependency lookup only)."""
    out = []
    for line in signature_text.replace("->", ",").splitlines():
        code = line.split("#", 1)[0]
        for part in code.split(","):
            if ":" in part:
                out.append(part.split(":", 1)[1].split("=", 1)[0].strip())
    exprs = []
    for e in out:
        try:
            ast.parse(e, mode="eval")
            exprs.append(e)
        except SyntaxError:
            continue
    return "[" + ", ".join(exprs) + "]"


def _uses(node: ast.AST, bound: set[str]) -> set[str]:
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - bound - _BUILTINS


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return node


def _agent_from_call(call: ast.Call, cell: int, problems: list[ExportProblem]) -> AgentDef | None:
    args = [_literal(a) for a in call.args]
    if not args or not isinstance(args[0], str):
        problems.append(ExportProblem(cell, "an agent whose id is not a string literal cannot be exported"))
        return None
    agent = AgentDef(cell, args[0])
    if len(args) > 1:
        if isinstance(args[1], str):
            agent.signature = args[1]
        elif isinstance(args[1], ast.Name):
            agent.signature_ref = args[1].id
    for kw in call.keywords:
        value = _literal(kw.value)
        if kw.arg == "signature":
            if isinstance(value, str):
                agent.signature = value
            elif isinstance(value, ast.Name):
                agent.signature_ref = value.id
        elif kw.arg == "model":
            if isinstance(value, str):
                agent.model = value
            else:
                problems.append(ExportProblem(cell, f"agent {agent.agent_id!r}: model must be a string such as "
                                                    "'test', 'local' or 'openai:gpt-4o-mini' to be exported "
                                                    f"(got {ast.unparse(kw.value)})"))
        elif kw.arg == "tools":
            if isinstance(kw.value, ast.List | ast.Tuple):
                for elt in kw.value.elts:
                    if isinstance(elt, ast.Name):
                        agent.tools.append(elt.id)
                    else:
                        problems.append(ExportProblem(cell, f"agent {agent.agent_id!r}: tool "
                                                            f"{ast.unparse(elt)} is not a named function"))
        elif kw.arg == "instructions" and isinstance(value, str):
            agent.instructions = value
        elif isinstance(value, int | float | str | bool) or value is None:
            agent.options[kw.arg or ""] = value
    return agent


def _magic_line(line: str, cell: int, plan: ExportPlan) -> None:
    words = shlex.split(line[len("%agent"):])
    if not words or words[0] in {"run", "step", "list", "show"}:
        return
    if len(words) < 2:
        plan.problems.append(ExportProblem(cell, f"%agent needs NAME and SIGNATURE: {line!r}"))
        return
    agent = AgentDef(cell, words[0])
    sig = words[1]
    if "->" in sig:
        agent.signature = sig
    else:
        agent.signature_ref = sig
    rest = words[2:]
    i = 0
    while i < len(rest):
        flag = rest[i]
        value = rest[i + 1] if i + 1 < len(rest) else ""
        if flag in {"--model", "-m"}:
            agent.model = value
        elif flag == "--tools":
            agent.tools = [t.strip() for t in value.split(",") if t.strip()]
        elif flag == "--mcp":
            agent.mcp.append(value)
        elif flag == "--instructions":
            agent.instructions = value
        i += 2
    plan.agents[agent.agent_id] = agent


def analyze_cells(cells: Sequence[str]) -> ExportPlan:
    """Analyse code cell sources (cell numbers are 1-based, in the order given)."""
    plan = ExportPlan({}, {}, [], [], [])
    for index, source in enumerate(cells, start=1):
        text = source.strip()
        if not text:
            continue
        if text.startswith("%%signature"):
            header, _, body = text.partition("\n")
            words = shlex.split(header[len("%%signature"):])
            if not words:
                plan.problems.append(ExportProblem(index, "%%signature needs a NAME"))
                continue
            instructions = None
            if "--instructions" in words:
                at = words.index("--instructions")
                instructions = words[at + 1] if at + 1 < len(words) else None
            plan.signatures[words[0]] = (index, body, instructions)
            continue
        if text.startswith("%%agent"):
            header, _, body = text.partition("\n")
            import yaml

            words = shlex.split(header[len("%%agent"):])
            try:
                conf = yaml.safe_load(body) or {}
            except yaml.YAMLError as exc:
                plan.problems.append(ExportProblem(index, f"%%agent body is not YAML: {exc}"))
                continue
            agent = AgentDef(index, words[0] if words else str(conf.get("agent_id", "")))
            sig = conf.get("signature")
            if isinstance(sig, str) and "->" in sig:
                agent.signature = sig
            elif isinstance(sig, str):
                agent.signature_ref = sig
            agent.model = conf.get("model")
            agent.tools = list(conf.get("tools") or [])
            agent.instructions = conf.get("instructions")
            plan.agents[agent.agent_id] = agent
            continue
        if text.startswith("%%"):
            plan.skipped_cells.append(index)
            continue
        python_lines = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("%agent"):
                _magic_line(stripped, index, plan)
                python_lines.append("")
            elif stripped.startswith(("%", "!")):
                python_lines.append("")
            else:
                python_lines.append(line)
        try:
            tree = ast.parse("\n".join(python_lines))
        except SyntaxError as exc:
            plan.problems.append(ExportProblem(index, f"cell does not parse as Python: {exc.msg}"))
            continue
        kept = False
        for stmt in tree.body:
            kept |= _statement(stmt, index, plan)
        if not kept:
            plan.skipped_cells.append(index)
    return plan


def _statement(stmt: ast.stmt, cell: int, plan: ExportPlan) -> bool:
    """Record one top-level statement; returns whether it belongs in an export."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        names = {(a.asname or a.name).split(".")[0] for a in stmt.names}
        plan.definitions.append(Definition(cell, names, ast.unparse(stmt), set(), "import"))
        return True
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        bound = {stmt.name}
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            bound |= {a.arg for a in [*stmt.args.args, *stmt.args.kwonlyargs, *stmt.args.posonlyargs]}
            bound |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        plan.definitions.append(Definition(cell, {stmt.name}, ast.unparse(stmt), _uses(stmt, bound),
                                           "class" if isinstance(stmt, ast.ClassDef) else "function"))
        return True
    if isinstance(stmt, ast.Assign | ast.AnnAssign):
        value = stmt.value
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        if isinstance(value, ast.Call) and _call_name(value) in _AGENT_CALLS:
            agent = _agent_from_call(value, cell, plan.problems)
            if agent is not None:
                plan.agents[agent.agent_id] = agent
            return True
        problem = None
        if isinstance(value, ast.Lambda):
            problem = (f"{', '.join(sorted(names))} is a lambda; a lambda closing over live objects cannot be "
                       "exported — define it with def")
        elif value is not None and not _is_static(value):
            problem = (f"{', '.join(sorted(names))} = {ast.unparse(value)[:60]} is a live object built at run "
                       "time; the export cannot reproduce it")
        plan.definitions.append(Definition(cell, names, ast.unparse(stmt), _uses(stmt, names) if value else set(),
                                           "assign", problem))
        return problem is None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _call_name(stmt.value) in _AGENT_CALLS:
        agent = _agent_from_call(stmt.value, cell, plan.problems)
        if agent is not None:
            plan.agents[agent.agent_id] = agent
        return True
    return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_static(node: ast.AST) -> bool:
    """Literals, names, attribute access, subscripts and calls of type constructors count as static."""
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        pass
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.BinOp):
        return True
    if isinstance(node, ast.Call):
        name = _call_name(node)
        return name[:1].isupper() or name in {"dict", "list", "set", "tuple", "frozenset", "Field"}
    return False


def check_agent(plan: ExportPlan, agent_id: str | None) -> AgentDef:
    """The agent to export (the last defined when ``agent_id`` is None), or a UserError naming the choices."""
    if not plan.agents:
        raise UserError("the notebook defines no agent (use %agent NAME SIGNATURE or Agent('id', 'q -> a')); "
                        "nothing to export")
    if agent_id is None:
        return list(plan.agents.values())[-1]
    if agent_id not in plan.agents:
        from kaizen_lab.errors import did_you_mean

        raise UserError(f"no agent {agent_id!r} in the notebook{did_you_mean(agent_id, plan.agents)}; "
                        f"agents: {sorted(plan.agents)}")
    return plan.agents[agent_id]
