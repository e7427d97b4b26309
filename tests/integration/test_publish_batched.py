"""Consecutive events of one transaction go out in one pipelined round trip, in order.

A transfer publishes two `wallet.transfer_completed` events and a notification batch one
`notification.created` per recipient; each used to cost its own Redis round trip after the
commit. `Tx.committed` now hands runs of consecutive events to `EventBus.publish_many`;
an `after_commit` step between events still runs between them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bson import ObjectId

from realtime.bus import EventBus
from server.core.db import Tx, run_in_transaction
from tests.helpers import services

pytestmark = pytest.mark.integration


class CountingBus(EventBus):
    """The real bus (no catalog: probe types), counting its round trips."""

    def __init__(self, redis: Any) -> None:
        super().__init__(redis)
        self.calls: list[tuple[str, int]] = []

    async def publish(self, channel: str, type_: str, data: Any) -> Any:
        self.calls.append(("publish", 1))
        return await super().publish(channel, type_, data)

    async def publish_many(self, events: Any) -> Any:
        self.calls.append(("publish_many", len(events)))
        return await super().publish_many(events)


async def _types(client: Any, channel: str, since: int) -> list[str]:
    raws = await services(client).bus.read_since(channel, since)
    return [json.loads(r)["type"] for r in raws]


async def test_consecutive_events_are_one_pipeline_and_keep_their_order(client):
    svc = services(client)
    bus = CountingBus(svc.redis)
    a, b = f"user:{ObjectId()}", f"user:{ObjectId()}"
    seen_between: list[list[str]] = []

    async def between() -> None:
        seen_between.append(await _types(client, a, 0))

    async def work(tx: Tx) -> None:
        tx.publish(a, "probe.one", {"n": 1})
        tx.publish(b, "probe.two", {"n": 2})
        tx.publish(a, "probe.three", {"n": 3})
        tx.after_commit(between)
        tx.publish(a, "probe.four", {"n": 4})

    await run_in_transaction(svc.mongo, work, publisher=bus)
    assert bus.calls == [("publish_many", 3), ("publish", 1)]
    assert seen_between == [["probe.one", "probe.three"]]
    assert await _types(client, a, 0) == ["probe.one", "probe.three", "probe.four"]
    assert await _types(client, b, 0) == ["probe.two"]
    offsets = [json.loads(r)["offset"] for r in await svc.bus.read_since(a, 0)]
    assert offsets == [1, 2, 3]


async def test_a_pipeline_after_redis_forgot_the_script_still_publishes(client):
    """Bug guarded: a pipelined `EVALSHA` after a Redis restart (script cache empty) answers
    NOSCRIPT per command; those events must still go out, not be dropped."""
    svc = services(client)
    bus = CountingBus(svc.redis)
    channel = f"user:{ObjectId()}"
    await bus.publish_many([(channel, "probe.warm", {})])
    await svc.redis.script_flush()
    published = await bus.publish_many([(channel, "probe.x", {}), (channel, "probe.y", {})])
    assert all(p is not None for p in published)
    assert await _types(client, channel, 0) == ["probe.warm", "probe.x", "probe.y"]
