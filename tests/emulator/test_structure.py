"""The emulator's internal module graph is acyclic.

Imports are read with ``ast`` rather than by importing, so imports inside functions and
``TYPE_CHECKING`` blocks count too: a cycle hidden that way still couples the modules, and a
later edit that makes the import eager turns it into an import-time failure.
"""

from __future__ import annotations

import ast
import os
from typing import Dict, List, Set

PACKAGE = "miniwdl_aws.emulator"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIRECTORY = os.path.join(ROOT, *PACKAGE.split("."))


def _modules() -> Dict[str, str]:
    out = {}
    for name in sorted(os.listdir(DIRECTORY)):
        if name.endswith(".py"):
            stem = name[: -len(".py")]
            module = PACKAGE if stem == "__init__" else f"{PACKAGE}.{stem}"
            out[module] = os.path.join(DIRECTORY, name)
    return out


MODULES = _modules()


def _resolve(node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (every emulator module is directly in
    the package, so one level of relativity is the package itself)."""
    if not node.level:
        return node.module or ""
    base = PACKAGE.rsplit(".", node.level - 1)[0] if node.level > 1 else PACKAGE
    return f"{base}.{node.module}" if node.module else base


def _edges(module: str) -> Set[str]:
    """The emulator modules that ``module`` imports, wherever the import statement sits."""
    with open(MODULES[module]) as f:
        tree = ast.parse(f.read(), MODULES[module])
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node)
            submodules = {f"{target}.{alias.name}" for alias in node.names} & set(MODULES)
            # `from . import _x` loads the package only as the already-importing parent; the
            # dependency that matters is on `_x` itself.
            found.update(submodules or {target})
    return {m for m in found if m in MODULES and m != module}


def _tangles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm): every
    import cycle lies inside one of them, so none means the graph is acyclic."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    out: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: List[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def _describe(graph: Dict[str, Set[str]], component: List[str]) -> str:
    """The imports that tie ``component`` together, e.g. ``_jobs -> _executor``."""
    short = {m: m.rsplit(".", 1)[-1] for m in component}
    return ", ".join(
        f"{short[a]} -> {short[b]}" for a in component for b in sorted(graph[a]) if b in short
    )


def test_module_discovery() -> None:
    assert {f"{PACKAGE}._jobs", f"{PACKAGE}._executor", f"{PACKAGE}._patches"} <= set(MODULES)


def test_cycle_finder_sees_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _tangles(graph) == [["a", "b", "c"]]
    assert _describe(graph, ["a", "b", "c"]) == "a -> b, b -> c, c -> a"
    assert _tangles({"a": {"b"}, "b": set()}) == []


def test_function_level_and_type_checking_imports_count() -> None:
    graph = {m: _edges(m) for m in MODULES}
    # _emulator imports `from . import _patches`: resolved to the submodule, not the package
    assert f"{PACKAGE}._patches" in graph[f"{PACKAGE}._emulator"]
    assert PACKAGE not in graph[f"{PACKAGE}._emulator"]


def test_emulator_import_graph_is_acyclic() -> None:
    graph = {m: _edges(m) for m in MODULES}
    cycles = [_describe(graph, component) for component in _tangles(graph)]
    assert cycles == [], f"import cycles among {PACKAGE} modules: {cycles}"
