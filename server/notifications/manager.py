"""Notifications: the only write path. Domains call `notify` after their own commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import msgspec
from beanie import PydanticObjectId
from bson import ObjectId

from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.errors import Unprocessable
from server.notifications.documents import Notification, NotificationPreference
from server.notifications.events import (
    NotificationCreated,
    NotificationPreferencesChanged,
    NotificationsRead,
)
from server.notifications.schemas import (
    MarkReadRequest,
    MarkReadResult,
    NotificationPage,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    NotificationView,
)

MAX_PAGE = 100


def notification_view(n: Notification) -> NotificationView:
    return NotificationView(
        id=str(n.id),
        type=n.type,
        title=n.title,
        data=n.data,
        created_at=n.created_at,
        read=n.read_at is not None,
    )


class NotificationManager:
    def __init__(self, *, bus: EventBus, now: Callable[[], datetime] = utcnow) -> None:
        self._bus = bus
        self.now = now

    async def notify(
        self,
        recipients: Iterable[Any],
        type_: str,
        title: str,
        data: dict[str, Any] | None = None,
    ) -> list[Notification]:
        """Store one notification per recipient (unless muted) and push it to `user:{id}`."""
        ids = list(dict.fromkeys(ObjectId(str(r)) for r in recipients))
        if not ids:
            return []
        muted = {
            doc["user_id"]
            async for doc in NotificationPreference.get_pymongo_collection().find(
                {"user_id": {"$in": ids}, "muted_types": type_}, {"user_id": 1}
            )
        }
        now = self.now()
        docs = [
            Notification(
                user_id=PydanticObjectId(uid),
                type=type_,
                title=title,
                data=data or {},
                created_at=now,
            )
            for uid in ids
            if uid not in muted
        ]
        if not docs:
            return []
        result = await Notification.get_pymongo_collection().insert_many(
            [d.model_dump(by_alias=True, exclude={"id"}) for d in docs]
        )
        for doc, inserted in zip(docs, result.inserted_ids, strict=True):
            doc.id = inserted
        for doc in docs:
            await self._bus.publish(
                user_channel(doc.user_id),
                "notification.created",
                NotificationCreated(
                    notification=notification_view(doc),
                    unread_count=await self._unread(doc.user_id),
                ),
            )
        return docs

    async def _unread(self, user_id: ObjectId) -> int:
        return await Notification.get_pymongo_collection().count_documents(
            {"user_id": user_id, "read_at": None}
        )

    async def list(
        self,
        actor: Actor,
        *,
        unread: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> NotificationPage:
        require_scope(actor, "notifications:read")
        limit = max(1, min(limit, MAX_PAGE))
        query: dict[str, Any] = {"user_id": actor.user_id}
        if unread is True:
            query["read_at"] = None
        elif unread is False:
            query["read_at"] = {"$ne": None}
        if cursor:
            if not ObjectId.is_valid(cursor):
                raise Unprocessable(
                    "The cursor is not valid.", details=[{"field": "cursor", "message": "bad"}]
                )
            query["_id"] = {"$lt": ObjectId(cursor)}
        raw = (
            await Notification.get_pymongo_collection()
            .find(query)
            .sort("_id", -1)
            .limit(limit + 1)
            .to_list()
        )
        items = [Notification.model_validate(d) for d in raw[:limit]]
        next_cursor = str(items[-1].id) if len(raw) > limit and items else None
        return NotificationPage(
            items=[notification_view(n) for n in items],
            next_cursor=next_cursor,
            unread_count=await self._unread(actor.user_id),
        )

    async def mark_read(self, actor: Actor, cmd: MarkReadRequest) -> MarkReadResult:
        require_scope(actor, "notifications:write")
        ids = [] if cmd.ids is msgspec.UNSET else list(cmd.ids)
        if not cmd.all and not ids:
            raise Unprocessable(
                "Name the notifications to mark read, or send `all: true`.",
                details=[{"field": "ids", "message": "required unless all is true"}],
            )
        query: dict[str, Any] = {"user_id": actor.user_id, "read_at": None}
        if not cmd.all:
            query["_id"] = {"$in": [ObjectId(i) for i in ids]}
        result = await Notification.get_pymongo_collection().update_many(
            query, {"$set": {"read_at": self.now()}}
        )
        unread = await self._unread(actor.user_id)
        await self._bus.publish(
            user_channel(actor.user_id),
            "notification.read",
            NotificationsRead(ids=[] if cmd.all else ids, all=cmd.all, unread_count=unread),
        )
        return MarkReadResult(updated=int(result.modified_count), unread_count=unread)

    async def preferences(self, actor: Actor) -> NotificationPreferences:
        require_scope(actor, "notifications:read")
        pref = await NotificationPreference.find_one(
            NotificationPreference.user_id == actor.user_id
        )
        return NotificationPreferences(muted_types=pref.muted_types if pref else [])

    async def set_preferences(
        self, actor: Actor, cmd: NotificationPreferencesUpdate
    ) -> NotificationPreferences:
        require_scope(actor, "notifications:write")
        muted = sorted(set(cmd.muted_types))
        await NotificationPreference.get_pymongo_collection().update_one(
            {"user_id": actor.user_id},
            {"$set": {"muted_types": muted, "updated_at": self.now()}},
            upsert=True,
        )
        await self._bus.publish(
            user_channel(actor.user_id),
            "notification.preferences_changed",
            NotificationPreferencesChanged(muted_types=muted),
        )
        return NotificationPreferences(muted_types=muted)
