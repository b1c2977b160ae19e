"""No import circle in controller/fenix: not at module level, not in a function, not under
TYPE_CHECKING. A circle means two modules that cannot be read, tested or replaced apart; types
one side needs of the other are named with a Protocol on the side that is imported. And the
simulators stand apart: from the controller they use only fenix.wsgi, and drivers do not
import them."""

from __future__ import annotations

import ast
from pathlib import Path

import fenix

PACKAGE = Path(fenix.__file__).parent


def _modules() -> dict[str, Path]:
    root = PACKAGE.parent
    return {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that `name` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {other for other in found if other in modules and other != name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _in(package: str, module: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _crossings(graph: dict[str, set[str]], source: str, target: str) -> set[tuple[str, str]]:
    """Each import from a module of package `source` to one of package `target`."""
    return {
        (module, other)
        for module, imported in graph.items()
        if _in(source, module)
        for other in imported
        if _in(target, other)
    }


def test_the_import_graph_has_no_circle():
    graph = _graph()
    assert len(graph) > 50, "the package was not found"
    assert any("fenix.engine.context" in imported for imported in graph.values())
    assert _circles(graph) == []


def test_a_circle_is_found_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_the_simulators_use_nothing_of_the_controller_but_its_wsgi_server():
    """A simulator stands in for a cloud: no engine, workflow, database or driver in it, so it
    is read, run (python -m fenix.simulators.<name>) and changed on its own."""
    graph = _graph()
    simulators = {module for module in graph if _in("fenix.simulators", module)}
    assert {"fenix.simulators.cloud", "fenix.simulators.openstack"} <= simulators
    outside = {
        (module, other)
        for module in simulators
        for other in graph[module]
        if not _in("fenix.simulators", other) and other != "fenix.wsgi"
    }
    assert outside == set()


def test_no_driver_imports_a_simulator_but_the_factory_its_in_process_cloud():
    """Drivers talk to a cloud, simulated or not, over its API; the factory alone starts a
    simulated cloud in-process, for `--cloud simulated` without a sim_url."""
    crossings = _crossings(_graph(), "fenix.drivers", "fenix.simulators")
    assert crossings == {("fenix.drivers.factory", "fenix.simulators.cloud")}


def test_a_crossing_between_packages_is_found():
    graph = {"p.a": {"q.b", "p.c"}, "p.c": set(), "q.b": {"p"}, "pq.d": {"q.b"}}
    assert _crossings(graph, "p", "q") == {("p.a", "q.b")}
    assert _crossings(graph, "q", "p") == {("q.b", "p")}


PURE = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "heapq",
    "itertools",
    "math",
}
"""What the planner may import from outside fenix: no clock, threads, sockets or database
(heapq: the simulation's queue of what happens next, fenix.planner.simulation)."""


def _external_imports(path: Path) -> set[str]:
    """The top-level names of the modules outside fenix that a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {"fenix"}


def _reach(roots: set[str]) -> tuple[set[str], set[str]]:
    """Every module of ours that the roots import, directly or not, and what those import
    from outside fenix."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    seen, todo = set(), list(roots)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph[module]
    return seen, set().union(*(_external_imports(modules[m]) for m in seen))


def test_the_planner_imports_nothing_that_does_io():
    planner = {name for name in _modules() if name.split(".")[:2] == ["fenix", "planner"]}
    assert {"fenix.planner.planner", "fenix.planner.snapshot"} <= planner
    ours, outside = _reach(planner)
    assert ours - planner == {"fenix.states"}, "the planner imports the rest of fenix"
    assert outside <= PURE, f"the planner imports {sorted(outside - PURE)}"


def test_the_executor_would_not_pass_as_a_planner():
    ours, outside = _reach({"fenix.workflows.parallel"})
    assert {"fenix.db.repository", "fenix.engine.context", "fenix.drivers.base"} <= ours
    assert {"threading", "time", "queue"} <= outside - PURE
