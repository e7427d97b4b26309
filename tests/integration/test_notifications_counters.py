"""The unread counter per user (server/notifications/counters.py).

`notification.created` carries the recipient's unread count; it used to be counted with an
aggregate over the recipients' unread notifications (a collection scan on SecantusDB, the
largest cost of a transfer's notification). It now comes from a counter document kept in
the batch's own transaction. These tests check the counter against the truth: users whose
notifications predate the counter, marking read, and a counter changed under a batch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bson import ObjectId

from server.core.channels import user_channel
from server.core.clock import utcnow
from server.notifications.documents import Notification, UnreadCounter
from tests.helpers import services
from tests.integration.wallet_support import verified_user

pytestmark = pytest.mark.integration


async def _counter(uid: ObjectId) -> int | None:
    doc = await UnreadCounter.get_pymongo_collection().find_one({"_id": uid})
    return None if doc is None else int(doc["unread"])


async def _last_created_count(client: Any, uid: ObjectId) -> int:
    raws = await services(client).bus.read_since(user_channel(uid), 0)
    created = [json.loads(r) for r in raws if json.loads(r)["type"] == "notification.created"]
    return int(created[-1]["data"]["unreadCount"])


async def test_notifications_stored_before_the_counter_are_counted_once(client):
    """Bug guarded: a user with unread notifications but no counter document must not
    start counting from zero (the event and the page would disagree)."""
    user = await verified_user(client)
    uid = ObjectId(user["user"]["id"])
    await Notification.get_pymongo_collection().insert_many(
        [
            {
                "user_id": uid,
                "type": "legacy",
                "title": f"old {i}",
                "data": {},
                "created_at": utcnow(),
                "read_at": None,
            }
            for i in range(3)
        ]
    )
    await UnreadCounter.get_pymongo_collection().delete_many({"_id": uid})
    await services(client).notifications.notify([uid], "probe.counter", "new")
    assert await _counter(uid) == 4
    assert await _last_created_count(client, uid) == 4
    page = (await client.get("/api/v1/notifications", headers=user["headers"])).json()
    assert page["unreadCount"] == 4


async def test_mark_read_resets_the_counter_and_later_events_count_from_it(client):
    user = await verified_user(client)
    uid = ObjectId(user["user"]["id"])
    notifications = services(client).notifications
    await notifications.notify([uid], "probe.counter", "one")
    await notifications.notify([uid], "probe.counter", "two")
    assert await _counter(uid) == 2
    marked = await client.post(
        "/api/v1/notifications/read", json={"all": True}, headers=user["headers"]
    )
    assert marked.status_code == 200, marked.text
    assert await _counter(uid) == 0
    await notifications.notify([uid], "probe.counter", "three")
    assert await _counter(uid) == 1
    assert await _last_created_count(client, uid) == 1


async def test_a_counter_changed_under_a_batch_retries_it_with_the_new_value(client, monkeypatch):
    """Bug guarded: the counter write is conditional on the value read; a change between
    the read and the write (another process) must retry the batch, not be overwritten."""
    user = await verified_user(client)
    uid = ObjectId(user["user"]["id"])
    notifications = services(client).notifications
    await notifications.notify([uid], "probe.counter", "first")
    counters = notifications._counters
    real_read = counters.read
    reads: list[dict[ObjectId, int | None]] = []

    async def read_then_interfere(tx: Any, ids: list[ObjectId]) -> dict[ObjectId, int | None]:
        found = await real_read(tx, ids)
        reads.append(found)
        if len(reads) == 1:
            await UnreadCounter.get_pymongo_collection().update_one(
                {"_id": uid}, {"$inc": {"unread": 10}}
            )
        return found

    monkeypatch.setattr(counters, "read", read_then_interfere)
    await notifications.notify([uid], "probe.counter", "second")
    assert reads[0][uid] == 1 and reads[-1][uid] == 11 and len(reads) >= 2
    assert await _counter(uid) == 12
    assert await _last_created_count(client, uid) == 12
