"""The shape of the house (docs/architecture.md), read from the source with `ast`:

- no import circle between product modules;
- imports point down the layers: server/core (and the event bus) → auth → server/wallet →
  other domains → realtime delivery → agents → composition root (server/compose, app,
  serve, jobs); only the composition root imports upwards;
- no product module over 400 lines (the few known ones may only shrink).

Imports under `if TYPE_CHECKING:` are not counted: they run only for the type checker
(agents name the composition root's `Managers`/`Services` types that way).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "auth", "realtime", "agents")
MAX_LINES = 400
# Known debt: these may not grow, and leave this list when split (issue 11).
OVER_LIMIT = {
    "server/wallet/manager.py": 431,
}
COMPOSITION_ROOT = ("server.compose", "server.app", "server.serve", "server.jobs")
LAYER_NAMES = ["core", "auth", "wallet", "domains", "realtime", "agents", "composition root"]


def layer_of(module: str) -> int:
    if module.startswith("server.core") or module == "realtime.bus":
        return 0  # the ground floor; managers publish through the bus
    if module.startswith("auth"):
        return 1
    if module.startswith("server.wallet"):
        return 2
    if module.startswith(COMPOSITION_ROOT):
        return 6
    if module.startswith("server"):
        return 3
    if module.startswith("realtime"):
        return 4
    if module.startswith("agents"):
        return 5
    raise AssertionError(f"no layer for {module}")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _product_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(path: Path) -> list[str]:
    """Every absolute import, at any depth (function-level ones too), except type-only."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        visit(node)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return names


def _import_graph() -> dict[str, set[str]]:
    modules = _product_modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for name in _imported_names(path):
            target = resolve(name)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
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
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph):
            if module not in index:
                connect(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_graph_sees_the_known_edges() -> None:
    """The parser is not vacuous: edges we know exist are found, type-only ones are not."""
    graph = _import_graph()
    assert "server.compose.services" in graph["server.compose.build"]
    assert "server.core.db" in graph["server.wallet.ledger"]
    assert "server.compose.services" not in graph["agents.tools.registry"]  # TYPE_CHECKING


def test_no_import_circles() -> None:
    assert _cycles(_import_graph()) == []


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{module} ({LAYER_NAMES[layer_of(module)]}) imports {target} "
        f"({LAYER_NAMES[layer_of(target)]})"
        for module, targets in sorted(_import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_no_product_module_over_400_lines() -> None:
    too_long = {}
    for path in _product_modules().values():
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > OVER_LIMIT.get(rel, MAX_LINES):
            too_long[rel] = lines
    assert too_long == {}
