"""Notifications: the only write path. Domains call `notify` after their own commit.

Concurrent `notify` calls are written together (group commit): the first caller starts a
flush, callers arriving meanwhile join the next one, and each batch costs one mute lookup,
one read of the recipients' unread counters (counters.py) and one `bulk_write` (the
notifications and the counters), whatever its size. Every caller still gets its own
stored notifications back (or the batch's error). Events go out after the batch commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from beanie import PydanticObjectId
from bson import ObjectId
from pymongo import AsyncMongoClient, InsertOne
from pymongo.errors import DuplicateKeyError

from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import (
    Publisher,
    StaleRead,
    Tx,
    bulk_write,
    collection_namespace,
    run_in_transaction,
)
from server.core.errors import Unprocessable
from server.core.wire import validate
from server.notifications.counters import UnreadCounters, expected_matches
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
MAX_BATCH = 200  # notify calls written in one flush


@dataclass(slots=True)
class _Pending:
    ids: list[ObjectId]
    type_: str
    title: str
    data: dict[str, Any]
    done: asyncio.Future[list[Notification]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


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
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        bus: Publisher,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._mongo = mongo
        self._bus = bus
        self.now = now
        self._queue: list[_Pending] = []
        self._flushing = False
        self._counters = UnreadCounters()

    async def _transaction(self, work: Callable[[Tx], Any]) -> Any:
        return await run_in_transaction(self._mongo, work, publisher=self._bus)

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
        pending = _Pending(ids, type_, title, data or {})
        self._queue.append(pending)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await pending.done

    async def _flush(self) -> None:
        """Write queued calls in batches until the queue is empty."""
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    stored = await self._write_batch(batch)
                except Exception as exc:
                    for p in batch:
                        if not p.done.done():
                            p.done.set_exception(exc)
                    continue
                for p, docs in zip(batch, stored, strict=True):
                    if not p.done.done():
                        p.done.set_result(docs)
        finally:
            self._flushing = False

    async def _write_batch(self, batch: list[_Pending]) -> list[list[Notification]]:
        stored: list[list[Notification]] = await self._transaction(
            lambda tx: self._write(tx, batch)
        )
        return stored

    async def _write(self, tx: Tx, batch: list[_Pending]) -> list[list[Notification]]:
        """One batch in `tx`: mute lookup, counters, one `bulk_write`, events on commit."""
        everyone = list({uid for p in batch for uid in p.ids})
        # By user id alone: the unique index serves it (SecantusDB uses an index only when
        # every filtered field is a prefix of its keys; with `muted_types` beside it, it
        # scanned every preference document).
        muted: dict[ObjectId, set[str]] = {
            doc["user_id"]: set(doc.get("muted_types") or [])
            async for doc in NotificationPreference.get_pymongo_collection().find(
                {"user_id": {"$in": everyone}},
                {"user_id": 1, "muted_types": 1},
                session=tx.session,
            )
        }
        now = self.now()
        per_call = [
            [
                Notification(
                    user_id=PydanticObjectId(uid),
                    type=p.type_,
                    title=p.title,
                    data=p.data,
                    created_at=now,
                )
                for uid in p.ids
                if p.type_ not in muted.get(uid, ())
            ]
            for p in batch
        ]
        docs = [d for call in per_call for d in call]
        if not docs:
            return per_call
        added: dict[ObjectId, int] = {}
        for d in docs:
            d.id = PydanticObjectId()
            added[d.user_id] = added.get(d.user_id, 0) + 1
        before, writes = await self._counters.add(
            tx, await self._counters.read(tx, list(added)), added
        )
        namespace = collection_namespace(Notification.get_pymongo_collection())
        writes += [InsertOne(d.model_dump(by_alias=True), namespace=namespace) for d in docs]
        try:
            result = await bulk_write(tx, self._mongo, writes)
        except DuplicateKeyError as exc:  # another process created the same counter first
            raise StaleRead("an unread counter") from exc
        if result.matched_count != expected_matches(writes):
            raise StaleRead("an unread counter")
        # Each event counts the user's unread notifications up to and including its own.
        seen: dict[ObjectId, int] = {}
        for doc in docs:
            seen[doc.user_id] = seen.get(doc.user_id, 0) + 1
            tx.publish(
                user_channel(doc.user_id),
                "notification.created",
                NotificationCreated(
                    notification=notification_view(doc),
                    unread_count=before[doc.user_id] + seen[doc.user_id],
                ),
            )
        return per_call

    async def _unread(self, user_id: ObjectId, tx: Tx | None = None) -> int:
        return await Notification.get_pymongo_collection().count_documents(
            {"user_id": user_id, "read_at": None}, session=tx.session if tx else None
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
        cmd = validate(cmd)
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

        async def work(tx: Tx) -> MarkReadResult:
            result = await Notification.get_pymongo_collection().update_many(
                query, {"$set": {"read_at": self.now()}}, session=tx.session
            )
            unread = await self._unread(actor.user_id, tx)
            await self._counters.set(tx, actor.user_id, unread)
            tx.publish(
                user_channel(actor.user_id),
                "notification.read",
                NotificationsRead(ids=[] if cmd.all else ids, all=cmd.all, unread_count=unread),
            )
            return MarkReadResult(updated=int(result.modified_count), unread_count=unread)

        result: MarkReadResult = await self._transaction(work)
        return result

    async def preferences(self, actor: Actor) -> NotificationPreferences:
        require_scope(actor, "notifications:read")
        pref = await NotificationPreference.find_one(
            NotificationPreference.user_id == actor.user_id
        )
        return NotificationPreferences(muted_types=pref.muted_types if pref else [])

    async def set_preferences(
        self, actor: Actor, cmd: NotificationPreferencesUpdate
    ) -> NotificationPreferences:
        cmd = validate(cmd)
        require_scope(actor, "notifications:write")
        muted = sorted(set(cmd.muted_types))

        async def work(tx: Tx) -> None:
            await NotificationPreference.get_pymongo_collection().update_one(
                {"user_id": actor.user_id},
                {"$set": {"muted_types": muted, "updated_at": self.now()}},
                upsert=True,
                session=tx.session,
            )
            tx.publish(
                user_channel(actor.user_id),
                "notification.preferences_changed",
                NotificationPreferencesChanged(muted_types=muted),
            )

        await self._transaction(work)
        return NotificationPreferences(muted_types=muted)
