"""No mixin towers in product code (issue 11): features are composed objects, not bases.

The groups manager was once `GroupManagerBase → Membership → Invitation → Votes → Wallet →
Requests → Purchases → Deletion → GroupManager`, and families/workspaces subclassed it: eight
files to find `self.load`, overrides that silently changed behaviour upstream. This test reads
the source of `server/`, `auth/`, `realtime/` and `agents/` and fails if a class

- has a project-defined base class named `*Mixin`, or
- inherits a project-defined manager (`*Manager`, `*ManagerBase`) from another module.

Data and type declarations may inherit freely: classes descending from Beanie `Document`,
msgspec `Struct`, pydantic `BaseModel`, exceptions, `Protocol` and `Enum`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "auth", "realtime", "agents")
EXEMPT_ROOTS = {
    "Document",
    "Struct",
    "BaseModel",
    "Exception",
    "BaseException",
    "Protocol",
    "Enum",
    "StrEnum",
    "IntEnum",
    "TypedDict",
    "NamedTuple",
}
MANAGER_SUFFIXES = ("Manager", "ManagerBase")


@dataclass(frozen=True)
class ClassDef:
    module: str
    name: str
    bases: tuple[str, ...]


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript):  # Generic[T], Protocol[T]
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def classes_in(module: str, source: str) -> list[ClassDef]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            bases = tuple(b for b in (_base_name(x) for x in node.bases) if b)
            found.append(ClassDef(module, node.name, bases))
    return found


def project_classes() -> list[ClassDef]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.extend(classes_in(module, path.read_text(encoding="utf-8")))
    return found


def violations(classes: list[ClassDef]) -> set[tuple[str, str, str]]:
    """(module, class, base) for every class that inherits a mixin or another module's
    manager; a class is exempt when any ancestor is a data/type root (`EXEMPT_ROOTS`)."""
    by_name: dict[str, list[ClassDef]] = {}
    for c in classes:
        by_name.setdefault(c.name, []).append(c)

    def exempt(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in EXEMPT_ROOTS or name.endswith("Error"):
            return True
        if name in seen:
            return False
        return any(exempt(base, seen | {name}) for c in by_name.get(name, []) for base in c.bases)

    bad = set()
    for c in classes:
        if exempt(c.name):
            continue
        for base in c.bases:
            defined = by_name.get(base, [])
            if not defined:
                continue  # not a project class (Controller, Generic, dict...)
            if base.endswith("Mixin") or (
                base.endswith(MANAGER_SUFFIXES) and all(d.module != c.module for d in defined)
            ):
                bad.add((c.module, c.name, base))
    return bad


def test_the_check_catches_a_mixin_tower() -> None:
    """The check itself can fail: a mixin base and a manager subclassed across modules."""
    base = classes_in("pkg.base", "class GroupManagerBase:\n    pass\n")
    tower = classes_in(
        "pkg.wallet",
        "class WalletMixin(GroupManagerBase):\n    pass\n"
        "class GroupManager(WalletMixin):\n    pass\n",
    )
    family = classes_in("pkg.family", "class FamilyManager(GroupManager):\n    pass\n")
    data = classes_in(
        "pkg.docs",
        "from beanie import Document\n"
        "class GroupDocument(Document):\n    pass\n"
        "class Family(GroupDocument):\n    pass\n",
    )
    assert violations(base + tower + family + data) == {
        ("pkg.wallet", "WalletMixin", "GroupManagerBase"),
        ("pkg.wallet", "GroupManager", "WalletMixin"),
        ("pkg.family", "FamilyManager", "GroupManager"),
    }


def test_product_code_has_no_mixin_towers() -> None:
    found = violations(project_classes())
    assert found == set(), (
        "compose collaborators instead of inheriting them (docs/architecture.md)"
    )


def test_the_groups_manager_is_composed() -> None:
    """The groups facade and the family/workspace extras inherit no project class."""
    classes = {(c.module, c.name): c for c in project_classes()}
    for key in [
        ("server.groups.manager", "GroupManager"),
        ("server.families.manager", "FamilyExtras"),
        ("server.workspaces.manager", "WorkspaceExtras"),
    ]:
        assert set(classes[key].bases) <= {"Generic"}, key
