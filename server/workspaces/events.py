"""Every event a workspace publishes, with its payload Struct (for the AsyncAPI document)."""

from __future__ import annotations

from server.groups.events import OwnershipTransferred, event_types

EVENT_TYPES: dict[str, type] = {
    **event_types("workspace"),
    "workspace.ownership_transferred": OwnershipTransferred,
}
