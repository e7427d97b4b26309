"""Wire types for notifications (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from server.core.wire import Input, ObjectIdStr, Output

NotificationType = Annotated[
    str, msgspec.Meta(min_length=3, max_length=80, pattern=r"^[a-z_]+\.[a-z_]+$")
]


class NotificationView(Output):
    id: str
    type: str
    title: str
    data: dict[str, Any]
    created_at: datetime
    read: bool


class NotificationPage(Output):
    items: list[NotificationView]
    next_cursor: str | None
    unread_count: int


class MarkReadRequest(Input):
    """Either `ids` (up to 500) or `all: true`."""

    ids: Annotated[list[ObjectIdStr], msgspec.Meta(max_length=500)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    all: bool = False


class MarkReadResult(Output):
    updated: int
    unread_count: int


class NotificationPreferences(Output):
    muted_types: list[str]


class NotificationPreferencesUpdate(Input):
    muted_types: Annotated[list[NotificationType], msgspec.Meta(max_length=100)]
