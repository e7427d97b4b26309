"""Every event type the code publishes is in the event catalog and so in the AsyncAPI document.

Two nets, neither a hand-kept list: an AST scan of every `publish(channel, type, data)` call
whose type is a literal or a module constant, and the bus itself, which in every test (the app
runs with `EVENTS_STRICT=true`) refuses a type or payload the catalog does not hold.
"""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest

from realtime.asyncapi import build_asyncapi
from realtime.bus import EventBus, UndocumentedEvent
from server.event_catalog import EVENT_MODULES, CatalogError, event_types

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("server", "auth", "realtime", "agents")


def _trees() -> list[ast.Module]:
    return [
        ast.parse(path.read_text(encoding="utf-8"))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
    ]


def published_types() -> set[str]:
    """The `type` argument of every `.publish(...)` call that names it statically."""
    trees = _trees()
    constants: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
    found: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "publish"
                and len(node.args) >= 2
            ):
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.add(constants[arg.id])
    return found


def test_every_statically_published_type_is_in_the_catalog() -> None:
    """Bug: `shop.purchase_completed` and `shop.rental_expired` were delivered but absent from
    the AsyncAPI document (`event_types()` never merged the shop's events)."""
    published = published_types()
    assert {"shop.purchase_completed", "shop.rental_expired", "note.created"} <= published
    assert published - set(event_types()) == set()


def test_the_asyncapi_document_holds_the_whole_catalog() -> None:
    catalog = event_types()
    doc = build_asyncapi(title="t", version="1", event_types=catalog)
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert set(catalog) <= names
    assert {"shop.purchase_completed", "shop.rental_expired", "session.revoked"} <= names
    for event_type in catalog:
        assert f"event_{event_type.replace('.', '_')}" in doc["channels"]["events"]["messages"]


def test_a_type_registered_twice_with_two_payloads_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "catalog_a.py").write_text(
        "import msgspec\nclass A(msgspec.Struct): pass\nEVENT_TYPES = {'x.y': A}\n"
    )
    (tmp_path / "catalog_b.py").write_text(
        "import msgspec\nclass B(msgspec.Struct): pass\nEVENT_TYPES = {'x.y': B}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CatalogError):
        event_types(("catalog_a", "catalog_b"))
    assert "server.shop.events" in EVENT_MODULES


class _Known(msgspec.Struct):
    n: int


def test_the_strict_bus_refuses_undocumented_types_and_payloads() -> None:
    strict = EventBus(None, catalog={"x.known": _Known})  # type: ignore[arg-type]
    strict.check("x.known", _Known(n=1))
    with pytest.raises(UndocumentedEvent, match="not in the event catalog"):
        strict.check("x.unknown", _Known(n=1))
    with pytest.raises(UndocumentedEvent, match="not its _Known"):
        strict.check("x.known", {"n": 1})
    lenient = EventBus(None, catalog={"x.known": _Known}, strict=False)  # type: ignore[arg-type]
    lenient.check("x.unknown", {})  # logged, not refused
