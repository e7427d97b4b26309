"""Every event type the code may publish, with its payload Struct: one catalog for the AsyncAPI
document and for the bus, which refuses (or, not strict, logs) an event missing from it.

Each area keeps `EVENT_TYPES: dict[str, type[Struct]]` in a module of its own; registering an
area is one line in `EVENT_MODULES`, a new type in a registered area one entry in its dict
(docs/api.md, "Adding an event type").
"""

from __future__ import annotations

import importlib
from typing import Any

EVENT_MODULES: tuple[str, ...] = (
    "auth.events",
    "server.wallet.events",
    "server.shop.events",
    "server.families.events",
    "server.workspaces.events",
    "server.notifications.events",
    "server.notes.events",
    "server.notes.uploads.schemas",
    "server.notes.vault.schemas",
    "agents.voice.schemas",
    "agents.mcp.schemas",
    "server.memory.schemas",
)


class CatalogError(RuntimeError):
    """Two areas registered one type with different payloads."""


def event_types(modules: tuple[str, ...] = EVENT_MODULES) -> dict[str, type[Any]]:
    """Type -> payload Struct, merged from every registered module."""
    catalog: dict[str, type[Any]] = {}
    for name in modules:
        registry: dict[str, type[Any]] = importlib.import_module(name).EVENT_TYPES
        for event_type, payload in registry.items():
            if catalog.get(event_type, payload) is not payload:
                raise CatalogError(f"{event_type} is registered twice ({name})")
            catalog[event_type] = payload
    return dict(sorted(catalog.items()))
