"""Read a notebook's cells and find what an agent needs: signatures, agents, tools and the code they use.

Pure: cells in, an ``ExportPlan`` out. Magics are read by their syntax (``%%signature NAME``,
``%agent NAME SIG --model M --tools f,g``, ``%%agent NAME`` with a YAML body, see ``_magics``); Python cells
are read with ``ast``. A dependency walk keeps only the definitions the tools and types need, each as the
exact text the user wrote; cells that only display or explore are left out, and the plan says why for every
cell it leaves out. Anything that cannot be exported is reported with its cell and the reason.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kaizen_lab.errors import UserError
from kaizen_lab.export._cells import (
    LeftOutCell,
    NotebookCell,
    as_cells,
    code_lines,
    leading_comments,
    segment,
)

__all__ = ["AgentDef", "Definition", "ExportPlan", "ExportProblem", "analyze_cells", "check_agent"]

_AGENT_CALLS = {"Agent", "create_agent"}
_BUILTINS = set(dir(builtins))
_OPTIONS = {"max_retries", "timeout", "model_timeout", "max_tool_steps", "adapter", "memory"}


@dataclass(frozen=True)
class ExportProblem:
    cell: int
    reason: str
    label: str = ""
    #: False for a problem that matters only when the cell's code is exported
    always: bool = True

    def __str__(self) -> str:
        return f"{self.label or f'cell {self.cell}'}: {self.reason}"


@dataclass(eq=False)
class Definition:
    """A top-level statement that binds names (import, def, class, assignment), with its exact source."""

    cell: int
    names: set[str]
    source: str
    uses: set[str]
    kind: str
    problem: str | None = None
    line: int = 1  # the statement's first line within its cell


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
    cells: list[NotebookCell] = field(default_factory=list)
    #: why a cell holds nothing for any agent (markdown, a run, a display ...), by cell number
    notes: dict[int, str] = field(default_factory=dict)

    def label(self, number: int) -> str:
        for cell in self.cells:
            if cell.number == number:
                return str(cell)
        return f"cell {number}"

    def problem(self, cell: int, reason: str, *, always: bool = True) -> None:
        self.problems.append(ExportProblem(cell, reason, self.label(cell), always))

    def needed_definitions(self, agent: AgentDef) -> list[Definition]:
        """The definitions ``agent``'s tools and types need, in notebook order (transitively)."""
        by_name: dict[str, Definition] = {}
        for d in self.definitions:
            for n in d.names:
                by_name[n] = d  # later cells win, as in the notebook
        wanted = list(agent.tools)
        wanted += sorted(_type_names(self.signature_text(agent)))
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
            wanted.extend(sorted(found.uses))
        order = {id(d): i for i, d in enumerate(self.definitions)}
        return sorted(keep, key=lambda d: order[id(d)])

    def signature_text(self, agent: AgentDef) -> str:
        if agent.signature is not None:
            return agent.signature
        if agent.signature_ref in self.signatures:
            return self.signatures[agent.signature_ref][1]
        return ""

    def left_out(self, agent: AgentDef, needed: Sequence[Definition]) -> list[LeftOutCell]:
        """Every cell of which nothing reaches ``agent``'s export, with the reason, in notebook order."""
        used = {d.cell for d in needed} | {agent.cell}
        if agent.signature is None and agent.signature_ref in self.signatures:
            used.add(self.signatures[agent.signature_ref][0])
        out = []
        for cell in self.cells:
            if cell.number in used:
                continue
            reason = self.notes.get(cell.number)
            if reason is None:
                names = sorted({n for d in self.definitions if d.cell == cell.number for n in d.names})
                other = [a.agent_id for a in self.agents.values() if a.cell == cell.number]
                if other:
                    reason = f"defines agent(s) {', '.join(map(repr, other))}, not the exported one"
                elif names:
                    reason = f"defines {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}, which the agent " \
                             "does not use"
                elif any(s[0] == cell.number for s in self.signatures.values()):
                    reason = "a signature the agent does not use"
                else:
                    reason = "nothing the agent needs"
            out.append(LeftOutCell(cell.number, str(cell), reason))
        return out


def _type_names(signature_text: str) -> set[str]:
    """Names used in the signature's type annotations (for the dependency walk only)."""
    from kaizen_lab.signatures.grammar import parse_signature_text

    try:
        parsed = parse_signature_text(signature_text, NameCollector())
    except Exception:  # noqa: BLE001 - a bad signature is reported when the export is checked
        return set()
    return {n for f in (*parsed.inputs, *parsed.outputs) for n in _words(f.type_text)}


class _AnyTypeMeta(type):
    def __getattr__(cls, name: str) -> Any:  # ``module.Type`` in a signature
        if name.startswith("__"):
            raise AttributeError(name)
        return cls


class _AnyType(metaclass=_AnyTypeMeta):
    """Stands for a notebook type the export cannot import: subscriptable and with any attribute."""

    def __class_getitem__(cls, item: Any) -> Any:
        return cls


class NameCollector(dict):  # type: ignore[type-arg]
    """Resolves every name the grammar does not know to a stand-in type, so a signature's syntax can be checked
    and its field names read without the notebook's own types."""

    def __contains__(self, key: object) -> bool:
        from kaizen_lab.signatures.grammar import BUILTIN_TYPES

        return isinstance(key, str) and key not in BUILTIN_TYPES

    def __getitem__(self, key: str) -> Any:
        return _AnyType

    def __bool__(self) -> bool:  # empty, but it answers for every name
        return True


def _words(type_text: str) -> set[str]:
    try:
        tree = ast.parse(type_text, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _uses(node: ast.AST, bound: set[str]) -> set[str]:
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - bound - _BUILTINS


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return node


def _agent_from_call(call: ast.Call, cell: int, plan: ExportPlan) -> AgentDef | None:
    args = [_literal(a) for a in call.args]
    if not args or not isinstance(args[0], str):
        plan.problem(cell, "an agent whose id is not a string literal cannot be exported", always=False)
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
                plan.problem(cell, f"agent {agent.agent_id!r}: model must be a string such as 'test', 'local' or "
                                   f"'openai:gpt-4o-mini' to be exported (got {ast.unparse(kw.value)[:60]})",
                             always=False)
        elif kw.arg == "tools":
            if isinstance(kw.value, ast.List | ast.Tuple):
                for elt in kw.value.elts:
                    if isinstance(elt, ast.Name):
                        agent.tools.append(elt.id)
                    else:
                        plan.problem(cell, f"agent {agent.agent_id!r}: tool {ast.unparse(elt)[:60]} is not a "
                                           "named function", always=False)
        elif kw.arg == "instructions":
            if isinstance(value, str):
                agent.instructions = value
            else:
                plan.problem(cell, f"agent {agent.agent_id!r}: instructions must be a string literal to be exported",
                             always=False)
        elif kw.arg in _OPTIONS and (isinstance(value, int | float | str | bool) or value is None):
            agent.options[kw.arg] = value
    from kaizen_lab.export._magics import check_options

    for reason in check_options(agent.options):
        plan.problem(cell, f"agent {agent.agent_id!r}: {reason}", always=False)
    return agent


def analyze_cells(cells: Sequence[str | NotebookCell]) -> ExportPlan:
    """Analyse the cells (plain strings are code cells numbered 1, 2, ... in the order given)."""
    from kaizen_lab.export import _magics

    plan = ExportPlan({}, {}, [], [], as_cells(cells))
    for cell in plan.cells:
        index, text = cell.number, cell.source.strip()
        if cell.kind != "code":
            plan.notes[index] = f"{cell.kind} cell, not code"
        elif not text:
            plan.notes[index] = "empty"
        elif text.startswith("%%signature"):
            _magics.signature_cell(text, index, plan)
        elif text.startswith("%%agent"):
            _magics.agent_cell(text, index, plan)
        elif text.startswith("%%"):
            plan.notes[index] = f"cell magic {text.split(None, 1)[0]} is not exported"
        else:
            _python_cell(cell.source, index, plan)
    return plan


def _python_cell(source: str, index: int, plan: ExportPlan) -> None:
    from kaizen_lab.export import _magics

    lines = code_lines(source)
    try:
        tree = ast.parse(source)
        python_lines = lines
    except SyntaxError:
        # IPython syntax (``%agent ...``, ``!pip ...``) is blanked line by line; line numbers stay the same
        python_lines = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("%agent"):
                _magics.agent_line(stripped, index, plan)
            if stripped.startswith(("%", "!")):
                python_lines.append("\n" if line.endswith(("\n", "\r")) else "")
            else:
                python_lines.append(line)
        try:
            tree = ast.parse("".join(python_lines))
        except SyntaxError as exc:
            plan.notes[index] = f"does not parse as Python ({exc.msg}, line {exc.lineno})"
            plan.problem(index, plan.notes[index], always=False)
            return
        except (RecursionError, MemoryError, ValueError):
            plan.notes[index] = "does not parse as Python (too deeply nested)"
            plan.problem(index, plan.notes[index], always=False)
            return
    except (RecursionError, MemoryError, ValueError):
        plan.notes[index] = "does not parse as Python (too deeply nested)"
        plan.problem(index, plan.notes[index], always=False)
        return
    kept = False
    for stmt in tree.body:
        kept |= _statement(stmt, index, plan, lines, python_lines)
    if not kept and index not in plan.notes:
        if tree.body:
            first = ast.unparse(tree.body[0]).splitlines()[0]
            plan.notes[index] = f"runs or displays ({first[:50]}{'…' if len(first) > 50 else ''})"
        else:
            magic = next((line.strip() for line in lines if line.strip()), "")
            plan.notes[index] = f"magic or shell lines only ({magic[:50]}{'…' if len(magic) > 50 else ''})"


def _source_of(stmt: ast.stmt, lines: list[str], python_lines: list[str], cell: int,
               plan: ExportPlan) -> tuple[str, int]:
    start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    start = leading_comments(python_lines, start)  # a comment block directly above belongs to the definition
    end, end_col = stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0
    text = segment(lines, start, end, end_col)
    if text != segment(python_lines, start, end, end_col):
        plan.problem(cell, f"line {start}: a line starting with % or ! sits inside this statement; the export "
                           "cannot tell a magic from code there — move the magic to its own line or cell", always=False)
    return text, start


def _statement(stmt: ast.stmt, cell: int, plan: ExportPlan, lines: list[str], python_lines: list[str]) -> bool:
    """Record one top-level statement; returns whether it may belong in an export."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        names = {(a.asname or a.name).split(".")[0] for a in stmt.names}
        text, line = _source_of(stmt, lines, python_lines, cell, plan)
        plan.definitions.append(Definition(cell, names, text, set(), "import", line=line))
        return True
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        bound = {stmt.name}
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            bound |= {a.arg for a in [*stmt.args.args, *stmt.args.kwonlyargs, *stmt.args.posonlyargs]}
            bound |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        text, line = _source_of(stmt, lines, python_lines, cell, plan)
        plan.definitions.append(Definition(cell, {stmt.name}, text, _uses(stmt, bound),
                                           "class" if isinstance(stmt, ast.ClassDef) else "function", line=line))
        return True
    if isinstance(stmt, ast.Assign | ast.AnnAssign):
        value = stmt.value
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        if isinstance(value, ast.Call) and _call_name(value) in _AGENT_CALLS:
            agent = _agent_from_call(value, cell, plan)
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
        text, line = _source_of(stmt, lines, python_lines, cell, plan)
        plan.definitions.append(Definition(cell, names, text, _uses(stmt, names) if value else set(),
                                           "assign", problem, line))
        return problem is None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _call_name(stmt.value) in _AGENT_CALLS:
        agent = _agent_from_call(stmt.value, cell, plan)
        if agent is not None:
            plan.agents[agent.agent_id] = agent
        return True
    return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_static(node: ast.AST) -> bool:
    """Literals, names, attribute access, subscripts and calls of type constructors count as static."""
    if not isinstance(_literal(node), ast.AST):
        return True
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.BinOp):
        return True
    if isinstance(node, ast.Call):
        name = _call_name(node)
        return name[:1].isupper() or name in {"dict", "list", "set", "tuple", "frozenset", "Field"}
    return False


def check_agent(plan: ExportPlan, agent_id: str | None) -> AgentDef:
    """The agent to export (the last defined when ``agent_id`` is None), or a UserError naming the choices."""
    if not plan.agents:
        if plan.problems:
            raise UserError("cannot export: " + "; ".join(" ".join(str(p).splitlines()) for p in plan.problems))
        raise UserError("the notebook defines no agent (use %agent NAME SIGNATURE or Agent('id', 'q -> a')); "
                        "nothing to export")
    if agent_id is None:
        return list(plan.agents.values())[-1]
    if agent_id not in plan.agents:
        from kaizen_lab.errors import did_you_mean

        raise UserError(f"no agent {agent_id!r} in the notebook{did_you_mean(agent_id, plan.agents)}; "
                        f"agents: {sorted(plan.agents)}")
    return plan.agents[agent_id]
