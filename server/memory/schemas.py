"""Wire types and events of memories."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.core.wire import Input, Output

MemoryText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class MemoryCreate(Input):
    text: MemoryText


class MemoryUpdate(Input):
    text: MemoryText
    base_version: int | None = None


class MemoryVersionView(Output):
    version: int
    text: str
    via: str
    at: str


class MemoryView(Output):
    id: str
    text: str
    version: int
    via: str
    history: list[MemoryVersionView]
    created_at: str
    updated_at: str


class MemorySaved(Output):
    memory: MemoryView


class MemoryDeleted(Output):
    memory_id: str


EVENT_TYPES: dict[str, type] = {"memory.saved": MemorySaved, "memory.deleted": MemoryDeleted}


class MemoryPage(Output):
    """A page of my memories (`nextCursor` null on the last)."""

    items: list[MemoryView]
    next_cursor: str | None = None
