"""The house rules that a reader cannot see at a glance: no import circles among the package's
modules (lazy imports inside functions included, since those are how circles hide), imports
only down the layers (data -> models -> predictions -> metrics/robustness -> gates -> report ->
plugins), pure gate modules, a plugin that loads no model code, and no module over 400 lines."""

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
    assert graph["loyalty_tests.models.specs"] >= {
        "loyalty_tests.models.classifiers",
        "loyalty_tests.models.demo",
    }  # the check sees lazy imports
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


# The rooms of the package, lowest first. Data flows data -> models -> predictions ->
# metrics/robustness -> gates -> report -> plugins; imports may only point down this list (or
# within a layer). Pure statistics and metrics sit at the bottom because they import nothing of
# data or models; ``predictions`` sits below ``models`` because it runs any object with
# ``predict_proba`` and loads no model itself (the demo builder in ``models`` uses it to score).
LAYERS = (
    {"errors", "validation", "infra"},
    {"stats", "metrics"},
    {"data"},
    {"predictions"},
    {"models", "compress", "lm"},  # lm: causal LMs (loading, token loyalty, choices, generation)
    {"robustness", "comparison"},
    {"engines"},
    {"gates"},
    {"report", "assertions", "bench", "strategies"},
    {"plugins", "suite"},
)


def room(module: str) -> str:
    """``loyalty_tests.gates.latency`` -> ``gates``; the package's own ``__init__`` is no room."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    for index, rooms in enumerate(LAYERS):
        if room(module) in rooms:
            return index
    raise AssertionError(f"{module}: room {room(module)!r} is in no layer of LAYERS; add it where it belongs")


def test_data_flows_one_way():
    """No module imports one from a higher layer: gates know nothing of the plugin or the report,
    the report nothing of the plugin, metrics nothing of models."""
    graph = import_graph()
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if room(module)
        for target in targets
        if room(target) and layer(target) > layer(module)
    )
    assert upward == []


def test_the_layer_check_finds_an_upward_import():
    assert layer("loyalty_tests.gates.latency") > layer("loyalty_tests.robustness.summary")
    assert layer("loyalty_tests.plugins.plugin") > layer("loyalty_tests.report.document") > layer("loyalty_tests.gates")
    with pytest.raises(AssertionError, match="in no layer"):
        layer("loyalty_tests.attic.old")


def test_every_gate_module_is_pure():
    """A gate decides from what it is given: no gate module imports a model, an engine, the
    session or pytest."""
    graph = import_graph()
    heavy = ("loyalty_tests.models", "loyalty_tests.engines", "loyalty_tests.plugins", "loyalty_tests.predictions")
    for module, targets in graph.items():
        if room(module) == "gates":
            assert not [t for t in targets if t.startswith(heavy)], module
            assert "import pytest" not in modules()[module].read_text(encoding="utf-8"), module


def test_the_plugin_loads_no_model_code():
    """Importing the plugin (what every pytest run does once it is installed) stays light: the
    session, models and numpy come when a gate or fixture needs them."""
    import subprocess
    import sys

    code = (
        "import sys, loyalty_tests.plugins.plugin; "
        "print(sorted(m for m in ('numpy', 'torch', 'loyalty_tests.plugins.session', 'loyalty_tests.models.specs', "
        "'loyalty_tests.gates.checks') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    ).stdout.strip()
    assert loaded == "[]"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400
