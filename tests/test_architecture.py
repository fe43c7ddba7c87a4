"""The package's shape, checked from its source with ``ast``: stages in their rooms, no loops, no shortcuts.

The import graph has one node per module of ``pipeline/`` and one edge per import statement, at any
depth (function-level and ``TYPE_CHECKING`` imports included: a loop through a type hint is still a
loop in the design). ``from pipeline.x import y`` is an edge to ``pipeline.x.y`` when that is a
module, else to ``pipeline.x``. Importing ``pipeline.teachers`` (the package's ``__init__``: the
registry, ``make_teacher`` and the teacher interface) is using the teachers' public API; importing
``pipeline.teachers.<module>`` is reaching into their internals.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
# `python -m pipeline.X`: thin CLIs that only the user calls (and the names later issues plan).
ENTRY_POINTS = ("distill", "build_dataset", "evaluate", "merge", "extract", "export", "round", "review")
MAX_LINES = 300
MAX_TOP_LEVEL_MODULES = 15
# The only places that may hold an SQLite connection: the run store and the evaluate endpoint's cache.
CONN_ALLOWED = ("pipeline.store", "pipeline.evaluation.endpoint_cache")


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``root`` (packages as their __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(name: str, known: set[str]) -> str | None:
    """The module an import of ``name`` loads: itself if it is one, else its longest known prefix."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _import_nodes(tree: ast.AST, type_checking: bool) -> Iterator[ast.AST]:
    """Every node under ``tree``; without ``type_checking``, not those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if not type_checking and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_import_nodes(child, type_checking)])
            continue
        yield node
        yield from _import_nodes(node, type_checking)


def import_graph(root: Path = PACKAGE, type_checking: bool = True) -> dict[str, set[str]]:
    """module -> the pipeline modules it imports (``type_checking=False``: as the interpreter runs them)."""
    files = module_files(root)
    known = set(files)
    top = root.name
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges = graph.setdefault(module, set())
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path)), type_checking):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:                      # relative: from the module's own package upwards
                    base_parts = module.split(".") if is_package else module.split(".")[:-1]
                    base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                         for alias in node.names]
            for name in names:
                if name == top or name.startswith(top + "."):
                    target = _resolve(name, known)
                    if target is not None and target != module:
                        edges.add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components (each a list of modules), in reverse topological order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def floors(graph: dict[str, set[str]]) -> int:
    """Modules on the longest import chain, a loop counted as one floor (its components condensed).

    >>> floors({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}})
    3
    >>> floors({"a": {"b"}, "b": {"a", "c"}, "c": set()})
    2
    """
    components = strongly_connected(graph)   # dependencies come before their importers
    where = {m: i for i, comp in enumerate(components) for m in comp}
    height: list[int] = []
    for i, comp in enumerate(components):
        below = [height[where[w]] for m in comp for w in graph.get(m, ()) if where[w] != i]
        height.append(1 + max(below, default=0))
    return max(height, default=0)


GRAPH = import_graph()
FILES = module_files()


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_loops():
    loops = [comp for comp in strongly_connected(GRAPH) if len(comp) > 1]
    assert loops == []


def test_render_imports_no_later_stage():
    wrong = {(m, t) for m, targets in GRAPH.items() if _in(m, "pipeline.render") for t in targets
             if any(_in(t, f"pipeline.{later}") for later in ("label", "dataset", "evaluation"))}
    assert wrong == set()


def test_dataset_and_evaluation_reach_neither_label_nor_teacher_internals():
    wrong = {(m, t) for m, targets in GRAPH.items()
             if _in(m, "pipeline.dataset") or _in(m, "pipeline.evaluation") for t in targets
             if _in(t, "pipeline.label") or (_in(t, "pipeline.teachers") and t != "pipeline.teachers")}
    assert wrong == set()


def test_entry_points_are_imported_by_nobody():
    entries = {f"pipeline.{name}" for name in ENTRY_POINTS} & set(GRAPH)
    assert {"pipeline.distill", "pipeline.build_dataset", "pipeline.evaluate", "pipeline.merge"} <= entries
    wrong = {(m, t) for m, targets in GRAPH.items() for t in targets if t in entries}
    assert wrong == set()


def _teacher_names() -> set[str]:
    from pipeline.teachers import TEACHER_NAMES

    return set(TEACHER_NAMES)


def _string_constants(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in node.elts for s in _string_constants(element)]
    return []


def test_nobody_outside_teachers_branches_on_a_teacher_name():
    """Teachers declare what they can do (priced, off_machine, thread_safe, image tokens, batch client)."""
    names = _teacher_names()
    wrong = []
    for module, path in FILES.items():
        if _in(module, "pipeline.teachers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                found = [s for part in (node.left, *node.comparators) for s in _string_constants(part)]
            elif isinstance(node, ast.Dict):        # {"gemini": ...}.get(teacher.name): a branch too
                found = [s for key in node.keys if key is not None for s in _string_constants(key)]
            elif isinstance(node, ast.match_case):
                found = [s for sub in ast.walk(node.pattern) for s in _string_constants(sub)]
            else:
                continue
            wrong += [f"{module}:{node.lineno if hasattr(node, 'lineno') else '?'} {s!r}"
                      for s in found if s in names]
    assert wrong == []


def test_sql_connections_live_in_the_store():
    wrong = []
    for module, path in FILES.items():
        if any(_in(module, allowed) for allowed in CONN_ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "conn":
                wrong.append(f"{module}:{node.lineno}")
    assert wrong == []


@pytest.mark.parametrize("module", sorted(FILES))
def test_no_module_over_300_lines(module):
    lines = FILES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{FILES[module]} has {lines} lines"


def test_few_modules_directly_in_the_package():
    top_level = sorted(p.name for p in PACKAGE.glob("*.py"))   # __init__.py counted too
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    """The checks above are only as good as the graph: it must see every kind of import."""
    pkg = tmp_path / "pipeline"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pipeline.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from . import c\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                      "    from pipeline.a import f\n")
    (pkg / "sub" / "c.py").write_text("import pipeline.sub.b as bee\nfrom .b import x\n")
    graph = import_graph(pkg)
    assert graph == {"pipeline": set(), "pipeline.a": {"pipeline.sub.b"}, "pipeline.sub": {"pipeline.sub.c"},
                     "pipeline.sub.b": {"pipeline.a"}, "pipeline.sub.c": {"pipeline.sub.b"}}
    assert [c for c in strongly_connected(graph) if len(c) > 1] == [["pipeline.a", "pipeline.sub.b"]]
    assert floors(graph) == 3
    assert import_graph(pkg, type_checking=False)["pipeline.sub.b"] == set()
