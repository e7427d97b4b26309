"""Which error codes an operation can answer, read from the code itself (never a hand-kept list).

An AST scan of the project finds every `DomainError` subclass (its status and default code) and
every place one is built (`Conflict("…", code="X")`, `InsufficientFunds(…)`). An operation's
codes are those built in its handler's folder and in the project folders that folder imports
(one level: the routes' manager and the ledger it calls), grouped by HTTP status.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("server", "auth", "realtime", "agents")
# Folders whose errors every operation already lists through the generic rules (`auth`:
# authentication answers 401/403 everywhere, its own routes list their codes).
_GENERIC = {"server/core", "server/openapi", "server", "realtime", "auth"}

_BASES: dict[str, tuple[int, str]] = {
    "DomainError": (400, "BAD_REQUEST"),
    "BadRequest": (400, "BAD_REQUEST"),
    "Unauthorized": (401, "UNAUTHORIZED"),
    "Forbidden": (403, "FORBIDDEN"),
    "NotFound": (404, "NOT_FOUND"),
    "Conflict": (409, "CONFLICT"),
    "Unprocessable": (422, "VALIDATION_ERROR"),
    "RateLimited": (429, "RATE_LIMITED"),
    "ServiceUnavailable": (503, "SERVICE_UNAVAILABLE"),
}


# Built with a status and code known only at run time (an idempotency replay re-raises the
# stored answer, whose code is one of those found elsewhere).
_DYNAMIC = {"DomainError", "StoredError"}


@dataclass(slots=True)
class _Module:
    path: str
    folder: str
    tree: ast.Module
    imports: set[str] = field(default_factory=set)


def _folder_of(module: str) -> str:
    """`server.wallet.routes` -> `server/wallet` (a module's own folder)."""
    path = ROOT / Path(*module.split("."))
    if path.is_dir():
        return str(path.relative_to(ROOT))
    return str(path.parent.relative_to(ROOT))


@cache
def _modules() -> tuple[_Module, ...]:
    out: list[_Module] = []
    for package in PROJECT_PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            mod = _Module(
                path=str(file.relative_to(ROOT)),
                folder=str(file.parent.relative_to(ROOT)),
                tree=tree,
            )
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and node.level == 0
                    and node.module.split(".")[0] in PROJECT_PACKAGES
                ):
                    mod.imports.add(_folder_of(node.module))
            out.append(mod)
    return tuple(out)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@cache
def error_classes() -> dict[str, tuple[int, str]]:
    """Every DomainError subclass in the project -> (status, default code)."""
    known = dict(_BASES)
    pending: list[ast.ClassDef] = [
        node for mod in _modules() for node in ast.walk(mod.tree) if isinstance(node, ast.ClassDef)
    ]
    changed = True
    while changed:
        changed = False
        for node in list(pending):
            base = next((n for b in node.bases if (n := _name(b)) in known), None)
            if base is None:
                continue
            status, code = known[base]
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                    target = _name(stmt.targets[0])
                    if target == "code" and isinstance(stmt.value.value, str):
                        code = stmt.value.value
                    if target == "status_code" and isinstance(stmt.value.value, int):
                        status = stmt.value.value
            known.setdefault(node.name, (status, code))
            pending.remove(node)
            changed = True
    return known


def _codes_raised(mod: _Module) -> dict[int, set[str]]:
    classes = error_classes()
    found: dict[int, set[str]] = defaultdict(set)
    for node in ast.walk(mod.tree):
        if not isinstance(node, ast.Call) or (name := _name(node.func)) not in classes:
            continue
        if name in _DYNAMIC:
            continue
        status, code = classes[name]
        for kw in node.keywords:
            if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                code = str(kw.value.value)
        found[status].add(code)
    return found


def codes_in_file(path: str) -> dict[int, frozenset[str]]:
    """Status -> codes raised in one project file (`server/wallet/idempotency.py`)."""
    for mod in _modules():
        if mod.path == path:
            return {s: frozenset(c) for s, c in _codes_raised(mod).items()}
    raise KeyError(path)


@cache
def _codes_by_folder() -> dict[str, dict[int, frozenset[str]]]:
    found: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for mod in _modules():
        for status, codes in _codes_raised(mod).items():
            found[mod.folder][status] |= codes
    return {f: {s: frozenset(c) for s, c in by.items()} for f, by in found.items()}


@cache
def _imports_of(folder: str) -> frozenset[str]:
    return frozenset(i for mod in _modules() if mod.folder == folder for i in mod.imports)


def codes_for_module(module: str) -> dict[int, frozenset[str]]:
    """Status -> codes raised in `module`'s folder and the project folders it imports."""
    folder = _folder_of(module)
    folders = {folder, *_imports_of(folder)} - (_GENERIC - {folder})
    by_folder = _codes_by_folder()
    out: dict[int, set[str]] = defaultdict(set)
    for name in folders:
        for status, codes in by_folder.get(name, {}).items():
            out[status] |= codes
    return {status: frozenset(codes) for status, codes in out.items()}
