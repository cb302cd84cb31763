"""The house's rule, read from the source: imports run downward only.

Packages of gnn_assets below the Dagster layer and the entry points never import a package that
imports them back (directly or through others); no two modules import each other; nothing
below the Dagster layer imports dagster. Imports inside functions count: a lazy import is an
import all the same.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gnn_assets"
# The Dagster layer and the entry points sit above everything and may import anything.
TOP = {"defs", "lib", "definitions", "cli", "demo"}
DAGSTER_LAYER = {"defs", "lib", "definitions", "demo"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _unit(module: str) -> str:
    """The package (or top-level module) a module belongs to: gnn_assets.graph.csr -> graph."""
    return module.split(".")[1] if module.count(".") else module


def _is_entry_point(module: str) -> bool:
    return _unit(module) in TOP or module.endswith(".__main__")


def _graphs():
    modules = _modules()
    module_edges, package_edges = defaultdict(set), defaultdict(set)
    for module, path in modules.items():
        for name in _imports(path):
            if not name.startswith("gnn_assets."):
                continue
            target = _resolve(name, modules)
            if target and target != module and target != "gnn_assets":
                module_edges[module].add(target)
                if not _is_entry_point(module) and _unit(module) != _unit(target):
                    package_edges[_unit(module)].add(_unit(target))
    return modules, module_edges, package_edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_packages_import_downward_only():
    _, _, package_edges = _graphs()
    assert _cycle(package_edges) is None, "packages import each other: " + " -> ".join(_cycle(package_edges))


def test_no_two_modules_import_each_other():
    _, module_edges, _ = _graphs()
    pairs = sorted({tuple(sorted((a, b))) for a, targets in module_edges.items() for b in targets if a in module_edges.get(b, ())})
    assert pairs == []


def _is_dagster(name: str) -> bool:
    # dagster_pipes is the one exception: the small, dependency-free protocol by which the CLI,
    # run by Dagster as a subprocess, reports back. It is not Dagster.
    top = name.split(".")[0]
    return (top == "dagster" or top.startswith("dagster_")) and top != "dagster_pipes"


def test_nothing_below_the_dagster_layer_imports_dagster():
    modules, _, _ = _graphs()
    offenders = sorted(
        module
        for module, path in modules.items()
        if _unit(module) not in DAGSTER_LAYER
        and any(_is_dagster(name) for name in _imports(path))
    )
    assert offenders == []


def test_the_checker_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


MAX_MODULE_LINES = 600  # past this a module holds more than one concern: split it by concern
TESTS = PACKAGE.parent / "tests"


def test_no_module_is_over_600_lines():
    long = sorted((len(path.read_text().splitlines()), str(path.relative_to(PACKAGE.parent))) for path in PACKAGE.rglob("*.py")
                  if "proto" not in path.parts)  # fmt: skip
    assert [(name, lines) for lines, name in long if lines > MAX_MODULE_LINES] == []


def test_nothing_imports_dagsters_private_modules():
    roots = [PACKAGE, TESTS, PACKAGE.parent / "benchmarks"]
    offenders = sorted(
        str(path.relative_to(PACKAGE.parent))
        for root in roots
        for path in root.rglob("*.py")
        if any(name.startswith("dagster._") for name in _imports(path))
    )
    assert offenders == []


def test_no_test_module_imports_another_test_module():
    """Shared helpers live in tests/support/ (and fixtures in conftest.py), never in a test module."""
    offenders = sorted(
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in TESTS.rglob("*.py")
        for name in _imports(path)
        if name.startswith("tests.") and (name.split(".")[-1].startswith("test_") or ".test_" in name or name.startswith("tests.conftest"))
    )
    assert offenders == []
