"""The house rules that a reader cannot see at a glance: no import circles among the package's
modules (lazy imports inside functions included, since those are how circles hide), and no
module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "loyalty_tests"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every package module ``name`` imports, wherever the import statement stands.

    Importing ``a.b.c`` also runs the package ``a.b``'s ``__init__``; that counts as an import of
    ``a.b`` only from outside the package (a package's own modules are imported while its
    ``__init__`` runs, which Python allows, and is no circle a reader has to untangle)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # "from . import metrics" imports a module, "from .x import f" reads x
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else source)
    found = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if not target or target == name:
            continue
        found.add(target)
        parent = target.rpartition(".")[0]
        while parent and parent in known and not (name == parent or name.startswith(parent + ".")):
            found.add(parent)  # the parent package's __init__ runs first
            parent = parent.rpartition(".")[0]
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported_modules(name, path, known) - {"loyalty_tests"} for name, path in found.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph.get(node, ())):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert graph["loyalty_tests.models.specs"] >= {"loyalty_tests.models.classifiers", "loyalty_tests.models.demo"}  # the check sees lazy imports
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_data_flows_one_way():
    """Lower rooms never reach up: metrics know nothing of models, models nothing of specs or the plugin."""
    graph = import_graph()
    upward = {
        "loyalty_tests.metrics": {"loyalty_tests.models.classifiers", "loyalty_tests.predictions", "loyalty_tests.models.specs"},
        "loyalty_tests.models.classifiers": {"loyalty_tests.models.specs", "loyalty_tests.compress", "loyalty_tests.models.demo",
                                 "loyalty_tests.predictions"},
        "loyalty_tests.models.demo": {"loyalty_tests.models.specs", "loyalty_tests.compress"},
        "loyalty_tests.models.training": {"loyalty_tests.compress", "loyalty_tests.models.specs", "loyalty_tests.models.demo"},
    }
    for module, forbidden in upward.items():
        reached = _reachable(graph, module)
        assert not reached & forbidden, f"{module} reaches {sorted(reached & forbidden)}"
    plugin_free = [name for name in graph if not name.startswith("loyalty_tests.plugins")
                   and name != "loyalty_tests.suite.test_loyalty_gates"]
    for module in plugin_free:
        assert not any(target.startswith("loyalty_tests.plugins") for target in graph[module]), module


def _reachable(graph, start) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400
