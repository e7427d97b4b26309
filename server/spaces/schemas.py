"""Wire types for spaces (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime

from server.core.wire import Output


class SpaceView(Output):
    id: str
    kind: str
    owner_id: str
    name: str
    role: str  # the caller's role: owner (personal), or their family/workspace role
    can_write: bool
    can_delete_any: bool
    note_count: int
    bytes_used: int
    channel: str
    created_at: datetime


class SpacePage(Output):
    """A page of the spaces I can read (`nextCursor` null on the last)."""

    items: list[SpaceView]
    next_cursor: str | None = None
