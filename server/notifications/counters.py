"""Each user's unread-notification counter, kept in the transactions that change it.

`notification.created` carries the recipient's unread count. Counting it per batch
(an aggregate over the recipients' unread notifications) read every unread notification
of those users, and on SecantusDB (no index with `read_at: null` beside `$in`) scanned the
whole collection: it was the largest cost of a transfer's notification. A counter document
per user (`UnreadCounter`) makes it one indexed read and one write in the batch's own
`bulk_write`. The write is conditional on the value read, so a concurrent change retries the
batch (`StaleRead`); a user without a counter (notifications stored before it existed) gets
one initialised from a count of their unread notifications.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import InsertOne, UpdateOne

from server.core.db import Tx, collection_namespace
from server.notifications.documents import Notification, UnreadCounter


class UnreadCounters:
    @property
    def _collection(self) -> Any:
        return UnreadCounter.get_pymongo_collection()

    async def read(self, tx: Tx, user_ids: list[ObjectId]) -> dict[ObjectId, int | None]:
        """Each user's counter as stored (`None`: no counter yet)."""
        found: dict[ObjectId, int | None] = dict.fromkeys(user_ids)
        async for doc in self._collection.find({"_id": {"$in": user_ids}}, session=tx.session):
            found[doc["_id"]] = int(doc["unread"])
        return found

    async def add(
        self, tx: Tx, before: dict[ObjectId, int | None], added: dict[ObjectId, int]
    ) -> tuple[dict[ObjectId, int], list[Any]]:
        """The counters before `added` (missing ones counted) and the writes that add it.

        Call before the new notifications are inserted (a missing counter is initialised
        from the unread notifications already stored). The caller checks that the writes'
        `matched_count` equals the number of `UpdateOne`s (`expected_matches`).
        """
        namespace = collection_namespace(self._collection)
        start: dict[ObjectId, int] = {}
        writes: list[Any] = []
        for uid, n in added.items():
            value = before.get(uid)
            if value is None:
                value = await Notification.get_pymongo_collection().count_documents(
                    {"user_id": uid, "read_at": None}, session=tx.session
                )
                writes.append(InsertOne({"_id": uid, "unread": value + n}, namespace=namespace))
            else:
                writes.append(
                    UpdateOne(
                        {"_id": uid, "unread": value},
                        {"$inc": {"unread": n}},
                        namespace=namespace,
                    )
                )
            start[uid] = value
        return start, writes

    async def set(self, tx: Tx, user_id: ObjectId, unread: int) -> None:
        """Store `unread` (counted by the caller in `tx`) as the user's counter."""
        await self._collection.update_one(
            {"_id": user_id}, {"$set": {"unread": unread}}, upsert=True, session=tx.session
        )


def expected_matches(writes: list[Any]) -> int:
    return sum(1 for w in writes if isinstance(w, UpdateOne))
