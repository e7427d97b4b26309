"""The SSE stream in real server processes: ids, resume, keep-alive, cleanup, refusal."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from realtime.bus import EventBus, live_channel
from tests.e2e.realtime_support import login, register

pytestmark = pytest.mark.e2e


async def _messages(response: httpx.Response):
    """Parsed SSE messages (dicts with event/data/id, or {'comment': ...})."""
    current: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                yield current
            current = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            current[field] = current.get(field, "") + value


async def _take(stream, count: int, timeout: float = 10.0, *, kinds=("message",)) -> list[dict]:
    out: list[dict] = []

    async def run() -> None:
        async for msg in stream:
            if "comment" in msg or not msg.get("data"):
                continue  # keep-alives and the opening `retry:` hint
            if msg.get("event", "message") in kinds:
                out.append(msg)
                if len(out) == count:
                    return

    await asyncio.wait_for(run(), timeout)
    return out


async def test_stream_ids_keepalive_and_headers(apis, redis):
    api = await apis.start(sse_keepalive_seconds=0.5)
    user = await register(api.base)
    bus = EventBus(redis)
    async with (
        httpx.AsyncClient(base_url=api.base, timeout=30) as client,
        client.stream(
            "GET", "/api/v1/events/stream", params={"channels": user.channel}, headers=user.headers
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = _messages(response)
        [subscribed] = await _take(stream, 1, kinds=("subscribed",))
        body = json.loads(subscribed["data"])
        assert body["type"] == "subscribed" and body["channel"] == user.channel
        await bus.publish(user.channel, "test.one", {"n": 1})
        [message] = await _take(stream, 1)
        event = json.loads(message["data"])
        assert event["type"] == "test.one" and event["data"] == {"n": 1}
        assert message["id"] == f"{event['epoch']}:{event['offset']}"
        started = time.monotonic()
        comments = 0
        async for msg in stream:
            if msg.get("comment") == "ping":
                comments += 1
                if comments == 2:
                    break
        assert time.monotonic() - started < 3


async def test_last_event_id_replays_exactly_the_missed_events(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    bus = EventBus(redis)
    channels = f"{user.channel},test:open-sse"
    params = {"channels": channels}
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        async with client.stream(
            "GET", "/api/v1/events/stream", params=params, headers=user.headers
        ) as response:
            stream = _messages(response)
            await _take(stream, 2, kinds=("subscribed",))
            await bus.publish(user.channel, "test.seen", {})
            [seen] = await _take(stream, 1)
        last_id = seen["id"]
        assert last_id.count(",") == 1  # one position per channel
        sent = []
        for i in range(10):
            channel = user.channel if i % 2 else "test:open-sse"
            sent.append((channel, i))
            await bus.publish(channel, "test.missed", {"i": i})
        headers = {**user.headers, "Last-Event-ID": last_id}
        async with client.stream(
            "GET", "/api/v1/events/stream", params=params, headers=headers
        ) as response:
            stream = _messages(response)
            both = await _take(stream, 12, kinds=("subscribed", "message"))
            subscribed = [m for m in both if m.get("event") == "subscribed"]
            assert len(subscribed) == 2
            assert all(json.loads(s["data"])["recovered"] for s in subscribed)
            replay = [json.loads(m["data"]) for m in both if "event" not in m]
            got = [(e["channel"], e["data"]["i"]) for e in replay]
            assert sorted(got, key=lambda x: x[1]) == sent
            for channel in (user.channel, "test:open-sse"):
                mine = [i for ch, i in got if ch == channel]
                assert mine == sorted(mine)  # in order per channel
            with pytest.raises(asyncio.TimeoutError):  # nothing more, no duplicates
                await _take(stream, 1, timeout=0.7)


async def test_subscriptions_gone_within_a_second_after_the_client_leaves(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    channel = "test:open-leave"
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        async with client.stream(
            "GET", "/api/v1/events/stream", params={"channels": channel}, headers=user.headers
        ) as response:
            stream = _messages(response)
            await _take(stream, 1, kinds=("subscribed",))
            [(_, count)] = await redis.pubsub_numsub(live_channel(channel))
            assert count == 1
        left = time.monotonic()
    while True:
        [(_, count)] = await redis.pubsub_numsub(live_channel(channel))
        if count == 0:
            break
        assert time.monotonic() - left < 1.0, "subscription outlived the client"
        await asyncio.sleep(0.05)
    online = await redis.zrangebyscore("rt:{test:open-leave}:presence", "-inf", "+inf")
    assert online == []


async def test_forbidden_or_unauthenticated_streams_are_refused(shared_api):
    api = shared_api
    alice, bob = await register(api.base), await register(api.base)
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        r = await client.get(
            "/api/v1/events/stream", params={"channels": bob.channel}, headers=alice.headers
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN_CHANNEL"
        r = await client.get("/api/v1/events/stream", params={"channels": alice.channel})
        assert r.status_code == 401
        r = await client.get(
            "/api/v1/events/stream", params={"channels": "bad channel"}, headers=alice.headers
        )
        assert r.status_code == 400


async def test_ticket_auth_for_eventsource_and_revocation_ends_the_stream(shared_api):
    api = shared_api
    user = await register(api.base)
    second = await login(api.base, user)
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        t = (await client.post("/api/v1/realtime/ticket", headers=second.headers)).json()["ticket"]
        async with client.stream(
            "GET", "/api/v1/events/stream", params={"channels": user.channel, "ticket": t}
        ) as response:
            assert response.status_code == 200
            stream = _messages(response)
            await _take(stream, 1, kinds=("subscribed",))
            r = await client.post("/api/v1/auth/logout", headers=second.headers)
            assert r.status_code == 204
            [closed] = await _take(stream, 1, kinds=("close",), timeout=2)
            assert json.loads(closed["data"]) == {"code": 4002, "reason": "session revoked"}
        # The ticket (reusable for this stream's reconnects) ended with its session.
        r = await client.get(
            "/api/v1/events/stream", params={"channels": user.channel, "ticket": t}
        )
        assert r.status_code == 401
