"""HTTP routes for notifications: thin, every rule lives in `NotificationManager`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post, put
from litestar.params import Parameter

from server.core.actor import Actor
from server.notifications.manager import NotificationManager
from server.notifications.schemas import (
    MarkReadRequest,
    MarkReadResult,
    NotificationPage,
    NotificationPreferences,
    NotificationPreferencesUpdate,
)


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/", summary="My notifications, newest first")
    async def list_notifications(
        self,
        actor: Actor,
        notifications: NotificationManager,
        unread: bool | None = None,
        cursor: str | None = None,
        limit: int = Parameter(default=50, ge=1, le=100),
    ) -> NotificationPage:
        return await notifications.list(actor, unread=unread, cursor=cursor, limit=limit)

    @post("/read", status_code=200, summary="Mark notifications read")
    async def mark_read(
        self, data: MarkReadRequest, actor: Actor, notifications: NotificationManager
    ) -> MarkReadResult:
        return await notifications.mark_read(actor, data)

    @get("/preferences", summary="Muted notification types")
    async def get_preferences(
        self, actor: Actor, notifications: NotificationManager
    ) -> NotificationPreferences:
        return await notifications.preferences(actor)

    @put("/preferences", summary="Mute notification types")
    async def put_preferences(
        self, data: NotificationPreferencesUpdate, actor: Actor, notifications: NotificationManager
    ) -> NotificationPreferences:
        return await notifications.set_preferences(actor, data)


__all__: list[Any] = ["NotificationController"]
