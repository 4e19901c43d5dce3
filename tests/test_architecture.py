"""The floor plan holds: each package imports only the packages below it, and no import circle spans packages.

The map, bottom to top (a package may import the rows below its own, and within its row only the pairs in
``SIDEWAYS``)::

    notebook
    framework · cli · export · integrations · monitoring
    patterns · optimize
    runtime · mcp
    agents · tracing · store
    signatures · models
    security
    events · messages · errors · redact · config · _doors · the private helpers (_aio, _net, ...)

What counts as an import: every ``import``/``from ... import`` statement in a module, at module level or inside
a function (lazy imports are real dependencies: they run the moment the function does), and
``importlib.import_module("kaizen_lab....")`` with a literal name. Imports under ``if TYPE_CHECKING:`` are left
out: they never run, and annotations may name any type. Strings in a package's lazy-export table are
forwarding addresses, not imports, and are not read.

Two modules are exempt, and only as importers: ``kaizen_lab`` itself (its lazy exports reach every package by
design; any module may read ``kaizen_lab.__version__``) and ``kaizen_lab._doors``, the one place where the
roadmap's outer-layer methods on ``Agent``/``Signature`` live as one-line doors (its shape is checked below).

The circle rule uses the same import graph (function-level imports included, which is stricter than
module-level imports alone); a package here is a top-level subpackage, or ``kaizen_lab`` for the modules at the
root. Circles inside one package are allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import kaizen_lab

ROOT = Path(kaizen_lab.__file__).parent
PACKAGE = "kaizen_lab"

ROWS: tuple[frozenset[str], ...] = (
    frozenset({"events", "messages", "errors", "redact", "config", "_doors", "_aio", "_net", "_progress", "_yaml",
               "_cli_inputs"}),
    frozenset({"security"}),
    frozenset({"signatures", "models"}),
    frozenset({"agents", "tracing", "store"}),
    frozenset({"runtime", "mcp"}),
    frozenset({"patterns", "optimize"}),
    frozenset({"framework", "cli", "export", "integrations", "monitoring"}),
    frozenset({"notebook"}),
)
#: imports allowed within one row (the bottom row is one package: its modules import each other freely)
SIDEWAYS: dict[tuple[str, str], str] = {
    ("tracing", "store"): "the tracer writes the runs it builds to the run store",
    ("framework", "integrations"): "Kaizen.deploy hands agents to the Nexus deployment",
    ("integrations", "framework"): "a production deployment builds its Kaizen from configuration",
    ("integrations", "export"): "a deployment serves an exported workflow module",
    ("export", "integrations"): "an exported workflow runs on the distributed runtime when asked",
    ("integrations", "monitoring"): "a deployment watches itself with production monitoring",
    ("monitoring", "integrations"): "monitoring reads a deployment's gateway metrics",
}
EXEMPT_IMPORTERS = {
    PACKAGE: "the facade: lazy exports of every package, and the version every module may read",
    f"{PACKAGE}._doors": "the doors: one-line lazy delegations from core objects to the outer layers",
}
ROW_OF = {unit: i for i, row in enumerate(ROWS) for unit in row}


# -- reading imports --------------------------------------------------------------------------------------------
def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name (``kaizen_lab.agents.agent``; a package by its own name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node below ``nodes``, leaving out the bodies of ``if TYPE_CHECKING:`` (their ``else`` stays)."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.orelse)
            continue
        yield node
        yield from _walk(ast.iter_child_nodes(node))


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[tuple[str, int]]:
    """``(imported name, line)`` for each import in ``source`` (``module``'s); ``from a import b`` gives ``a.b``
    (the caller keeps the longest prefix that is a module)."""
    found = []
    for node in _walk([ast.parse(source)]):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "import_module" and isinstance(node.args[0].value, str):
                found.append((node.args[0].value, node.lineno))
    return found


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(f"{PACKAGE}.")


def _resolve(name: str, modules: Iterable[str]) -> str:
    known = set(modules)
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_edges(modules: dict[str, Path]) -> list[tuple[str, str, int]]:
    """``(importer, imported module, line)`` over the whole package (exempt importers left out)."""
    edges = []
    for module, path in modules.items():
        if module in EXEMPT_IMPORTERS:
            continue
        for name, line in imports_of(path.read_text(encoding="utf-8"), module,
                                     is_package=path.name == "__init__.py"):
            if not _ours(name):
                continue
            target = _resolve(name, modules)
            if target != module:
                edges.append((module, target, line))
    return edges


# -- the rules --------------------------------------------------------------------------------------------------
def unit_of(module: str) -> str:
    """The map's name for ``module``: its top-level subpackage, or the root module's own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def package_of(module: str, packages: set[str]) -> str:
    """The package ``module`` belongs to for the circle rule: its top-level subpackage, else ``kaizen_lab``."""
    unit = unit_of(module)
    return f"{PACKAGE}.{unit}" if f"{PACKAGE}.{unit}" in packages else PACKAGE


def layer_violations(edges: Iterable[tuple[str, str, int]]) -> list[str]:
    """The imports that break the map: upward, sideways without a reason in ``SIDEWAYS``, or from a package the
    map does not place."""
    problems = []
    for importer, imported, line in edges:
        if importer in EXEMPT_IMPORTERS or imported == PACKAGE:
            continue
        a, b = unit_of(importer), unit_of(imported)
        if a == b:
            continue
        for unit in (a, b):
            if unit not in ROW_OF:
                problems.append(f"{unit!r} is not on the map: add it to a row of ROWS ({importer}:{line})")
        if a not in ROW_OF or b not in ROW_OF:
            continue
        if ROW_OF[b] > ROW_OF[a]:
            problems.append(f"{importer}:{line} imports {imported}: {a} may not reach up to {b}")
        elif ROW_OF[b] == ROW_OF[a] and ROW_OF[a] > 0 and (a, b) not in SIDEWAYS:
            problems.append(f"{importer}:{line} imports {imported}: {a} and {b} share a row and {a} -> {b} is "
                            "not one of SIDEWAYS")
    return problems


def circles(edges: Iterable[tuple[str, str, int]]) -> list[list[str]]:
    """The strongly connected components (of two or more modules) of the import graph (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in edges:
        graph.setdefault(importer, set()).add(imported)
        graph.setdefault(imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def circles_across_packages(edges: list[tuple[str, str, int]], packages: set[str]) -> list[list[str]]:
    return [c for c in circles(edges) if len({package_of(m, packages) for m in c}) > 1]


def _packages(modules: dict[str, Path]) -> set[str]:
    return {m for m, p in modules.items() if p.name == "__init__.py" and m.count(".") == 1}


# -- the real tree ----------------------------------------------------------------------------------------------
def test_every_import_follows_the_map() -> None:
    assert layer_violations(import_edges(module_files())) == []


def test_no_import_circle_spans_more_than_one_package() -> None:
    modules = module_files()
    assert circles_across_packages(import_edges(modules), _packages(modules)) == []


def test_every_package_is_on_the_map() -> None:
    units = {unit_of(m) for m in module_files()} - {PACKAGE}
    assert units - set(ROW_OF) == set(), "place each new package or root module in a row of ROWS"
    assert set(ROW_OF) - units == set(), "the map names a package that no longer exists"


#: the notebook's libraries, which no other package imports (not even lazily)
NOTEBOOK_ONLY = ("IPython", "ipywidgets", "plotly")
#: known exceptions, to be moved behind a handler the notebook registers
NOTEBOOK_ONLY_EXCEPTIONS = {
    "kaizen_lab.mcp._requests": "MCP progress bars and the kernel check while a notebook cell waits on a server",
    "kaizen_lab.mcp._forms": "MCP elicitation forms shown in the running notebook cell",
}


def test_only_the_notebook_imports_the_notebook_libraries() -> None:
    found = []
    for module, path in module_files().items():
        if unit_of(module) == "notebook" or module in NOTEBOOK_ONLY_EXCEPTIONS:
            continue
        found += [f"{module}:{line} imports {name}"
                  for name, line in imports_of(path.read_text(encoding="utf-8"), module)
                  if name.split(".")[0] in NOTEBOOK_ONLY]
    assert found == []


def test_each_door_is_one_lazy_import_and_one_delegating_return() -> None:
    tree = ast.parse((ROOT / "_doors.py").read_text(encoding="utf-8"))
    doors = [node for cls in tree.body if isinstance(cls, ast.ClassDef)
             for node in cls.body if isinstance(node, ast.FunctionDef)]
    assert len(doors) >= 10
    for door in doors:
        body = door.body[1:] if ast.get_docstring(door) is not None else door.body
        imports = [n for n in ast.walk(door) if isinstance(n, ast.Import | ast.ImportFrom)]
        if not imports:
            continue  # reaches nowhere (``__getattr__`` reads what the MCP package stored on the agent)
        assert len(body) == 2 and isinstance(body[0], ast.ImportFrom) and isinstance(body[1], ast.Return), (
            f"door {door.name} (line {door.lineno}) must be one lazy import and one delegating return")


# -- the checker catches what it must ---------------------------------------------------------------------------
def test_the_three_broken_rules_of_old_are_caught() -> None:
    edges = [("kaizen_lab.agents.agent", "kaizen_lab.notebook", 378),
             ("kaizen_lab.signatures.signature", "kaizen_lab.agents.agent", 322),
             ("kaizen_lab.signatures.adapters", "kaizen_lab.models.base", 16)]
    problems = layer_violations(edges)
    assert len(problems) == 3
    assert "agents may not reach up to notebook" in problems[0]
    assert "signatures may not reach up to agents" in problems[1]
    assert "signatures and models share a row" in problems[2]


def test_downward_sideways_by_reason_and_exempt_imports_pass() -> None:
    edges = [("kaizen_lab.runtime.compiler", "kaizen_lab.agents.agent", 1),
             ("kaizen_lab.tracing.tracer", "kaizen_lab.store", 1),
             ("kaizen_lab.errors", "kaizen_lab.redact", 1),
             ("kaizen_lab._doors", "kaizen_lab.notebook", 1),
             ("kaizen_lab.mcp.server", "kaizen_lab", 1)]
    assert layer_violations(edges) == []
    assert layer_violations([("kaizen_lab.store.runs", "kaizen_lab.tracing", 7)]) != []  # not the other way
    assert "not on the map" in layer_violations([("kaizen_lab.newthing.x", "kaizen_lab.errors", 1)])[0]


def test_function_level_imports_count_and_type_checking_imports_do_not() -> None:
    source = '''
from __future__ import annotations
import typing
from typing import TYPE_CHECKING
from kaizen_lab.errors import UserError
from . import tools
if TYPE_CHECKING:
    from kaizen_lab.notebook import playground
else:
    import kaizen_lab.events
if typing.TYPE_CHECKING:
    from kaizen_lab.mcp import server

def door():
    from kaizen_lab.runtime.compiler import compile_agent
    return compile_agent

class A:
    def m(self):
        import importlib
        return importlib.import_module("kaizen_lab.integrations.dataflow")
'''
    names = [name for name, _ in imports_of(source, "kaizen_lab.agents.agent") if _ours(name)]
    assert names == ["kaizen_lab.errors.UserError", "kaizen_lab.agents.tools", "kaizen_lab.events",
                     "kaizen_lab.runtime.compiler.compile_agent", "kaizen_lab.integrations.dataflow"]
    modules = {"kaizen_lab.agents.agent": Path("x"), "kaizen_lab.runtime.compiler": Path("y")}
    assert _resolve("kaizen_lab.runtime.compiler.compile_agent", modules) == "kaizen_lab.runtime.compiler"
    edges = [("kaizen_lab.agents.agent", name, 1) for name in names]
    assert any("agents may not reach up to runtime" in p for p in layer_violations(edges))
    assert any("agents may not reach up to integrations" in p for p in layer_violations(edges))


def test_a_circle_across_packages_is_caught_and_one_inside_a_package_is_not() -> None:
    packages = {"kaizen_lab.agents", "kaizen_lab.runtime", "kaizen_lab.patterns"}
    edges = [("kaizen_lab.agents.agent", "kaizen_lab.agents._loop", 1),
             ("kaizen_lab.agents._loop", "kaizen_lab.runtime.nodes", 2),
             ("kaizen_lab.runtime.nodes", "kaizen_lab.agents.agent", 3),
             ("kaizen_lab.patterns.debate", "kaizen_lab.patterns.nodes", 4),
             ("kaizen_lab.patterns.nodes", "kaizen_lab.patterns.debate", 5),
             ("kaizen_lab.errors", "kaizen_lab.redact", 6),
             ("kaizen_lab.redact", "kaizen_lab.errors", 7)]
    assert circles_across_packages(edges, packages) == [
        ["kaizen_lab.agents._loop", "kaizen_lab.agents.agent", "kaizen_lab.runtime.nodes"]]
    assert len(circles(edges)) == 3
