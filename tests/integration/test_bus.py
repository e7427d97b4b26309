"""The publish side of the event bus: offsets, epochs, the bounded stream, live delivery."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest
from redis.asyncio import Redis

from realtime.bus import EventBus, live_channel, stream_key

pytestmark = pytest.mark.integration


class Payload(msgspec.Struct, rename="camel"):
    n: int
    user_name: str


async def _collect(redis: Redis, channel: str, count: int, ready: asyncio.Event) -> list[dict]:
    pubsub = redis.pubsub()
    await pubsub.subscribe(live_channel(channel))
    ready.set()
    received: list[dict] = []
    try:
        async with asyncio.timeout(10):
            while len(received) < count:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    received.append(json.loads(message["data"]))
    finally:
        await pubsub.aclose()
    return received


async def test_live_subscriber_sees_order_and_offsets(redis):
    bus = EventBus(redis, stream_maxlen=100)
    ready = asyncio.Event()
    collector = asyncio.create_task(_collect(redis, "family:abc", 20, ready))
    await ready.wait()
    published = [
        await bus.publish("family:abc", "test.happened", Payload(n=i, user_name="a"))
        for i in range(20)
    ]
    received = await collector
    assert [e["offset"] for e in received] == list(range(1, 21))
    assert [e["data"]["n"] for e in received] == list(range(20))
    assert {e["epoch"] for e in received} == {published[0].epoch}
    first = received[0]
    assert set(first) == {"offset", "epoch", "channel", "type", "data", "ts"}
    assert first["channel"] == "family:abc" and first["type"] == "test.happened"
    assert first["data"] == {"n": 0, "userName": "a"}


async def test_concurrent_publishers_get_unique_gapless_offsets(redis):
    bus = EventBus(redis)
    results = await asyncio.gather(*(bus.publish("user:1", "x.y", {"i": i}) for i in range(100)))
    assert sorted(r.offset for r in results) == list(range(1, 101))
    stored = await bus.read_since("user:1", 0)
    offsets = [json.loads(e)["offset"] for e in stored]
    assert offsets == list(range(1, 101))


async def test_stream_is_bounded_and_replay_reads_after_an_offset(redis):
    bus = EventBus(redis, stream_maxlen=10)
    for i in range(200):
        await bus.publish("workspace:w", "x.y", {"i": i})
    length = await redis.xlen(stream_key("workspace:w"))
    assert 10 <= length < 200
    tail = [json.loads(e) for e in await bus.read_since("workspace:w", 195)]
    assert [e["offset"] for e in tail] == [196, 197, 198, 199, 200]
    epoch, offset = await bus.position("workspace:w")
    assert offset == 200 and epoch == tail[0]["epoch"]


async def test_lost_history_starts_a_new_epoch(redis):
    bus = EventBus(redis)
    first = await bus.publish("user:2", "x.y", {})
    await redis.flushdb()
    second = await bus.publish("user:2", "x.y", {})
    assert second.offset == 1
    assert second.epoch != first.epoch


async def test_stale_stream_without_meta_is_dropped(redis):
    """If the meta hash is gone but an old stream remains, replay must not mix epochs."""
    bus = EventBus(redis)
    for _ in range(3):
        await bus.publish("user:3", "x.y", {})
    await redis.delete("rt:{user:3}:meta")
    fresh = await bus.publish("user:3", "x.y", {})
    events = [json.loads(e) for e in await bus.read_since("user:3", 0)]
    assert [e["offset"] for e in events] == [1]
    assert events[0]["epoch"] == fresh.epoch


async def test_publish_failure_does_not_stop_later_publishes(tmp_path):
    """A publish while Redis is down is reported (None) and the next one, after Redis is
    back on the same address, goes through on the same bus object."""
    from scripts.devservices import free_port, spawn_redis

    port = free_port()
    first = spawn_redis(tmp_path / "a", port=port)
    client = Redis.from_url(first.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    bus = EventBus(client)
    try:
        assert (await bus.publish("user:4", "x.y", {})).offset == 1
        first.stop()
        assert await bus.publish("user:4", "x.y", {}) is None
        assert bus.failures == 1
        second = spawn_redis(tmp_path / "b", port=port)
        try:
            result = await bus.publish("user:4", "x.y", {})
            assert result is not None and result.offset == 1  # new server, new epoch
        finally:
            second.stop()
    finally:
        await client.aclose()


async def test_script_reloaded_after_script_flush(redis):
    bus = EventBus(redis)
    await bus.publish("user:5", "x.y", {})
    await redis.script_flush()
    again = await bus.publish("user:5", "x.y", {})
    assert again is not None and again.offset == 2
