"""One `presence` frame per change of the online users (issue 16: duplicate frames).

Bug: the tracker announced every change of its Redis set, whose members are connections,
so a second tab of a user already online, or one of two tabs leaving, sent a `presence`
frame identical to the last one.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime.presence import PresenceTracker, presence_channel

pytestmark = pytest.mark.integration

ROOM = "family:0123456789abcdef01234567"


async def _frames(pubsub, wait: float = 0.3) -> list[list[str]]:
    """The `online` user ids of each frame published so far."""
    out: list[list[str]] = []
    deadline = asyncio.get_running_loop().time() + wait
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if message is not None:
            out.append([m["userId"] for m in json.loads(message["data"])["online"]])
    return out


async def test_a_second_tab_or_a_heartbeat_sends_no_presence_frame(redis):
    tracker = PresenceTracker(redis, ttl=30)
    alice_1 = tracker.member("a1", "alice", "conn-1")
    alice_2 = tracker.member("a1", "alice", "conn-2")
    bob = tracker.member("b2", "bob", "conn-3")
    pubsub = redis.pubsub()
    await pubsub.subscribe(presence_channel(ROOM))
    try:
        await tracker.touch([ROOM], alice_1)
        assert await _frames(pubsub) == [["a1"]]
        await tracker.touch([ROOM], alice_2)  # a second tab: alice is already online
        await tracker.touch([ROOM], alice_1)  # a heartbeat
        assert await _frames(pubsub) == []
        await tracker.touch([ROOM], bob)
        assert await _frames(pubsub) == [["a1", "b2"]]
        await tracker.leave([ROOM], alice_2)  # alice keeps one tab open
        assert await _frames(pubsub) == []
        await tracker.leave([ROOM], alice_1)
        assert await _frames(pubsub) == [["b2"]]
        assert [m.user_id for m in await tracker.online(ROOM)] == ["b2"]
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
