"""The WebSocket gateway in real server processes: tickets, origins, frames, limits, auth."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import httpx
import pytest
import websockets

from realtime.bus import EventBus
from tests.e2e.realtime_support import (
    ORIGIN,
    connect,
    expect_close,
    login,
    recv,
    recv_events,
    register,
    send,
    subscribe,
    ticket,
)

pytestmark = pytest.mark.e2e


async def test_ticket_connect_subscribe_and_receive(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    ws = await connect(api, user)
    reply = await subscribe(ws, user.channel)
    assert reply["recovered"] is False and reply["offset"] == 0
    bus = EventBus(redis)
    await bus.publish(user.channel, "test.hello", {"n": 1})
    [event] = await recv_events(ws, 1)
    assert event["type"] == "test.hello" and event["data"] == {"n": 1}
    assert event["offset"] == 1 and event["channel"] == user.channel
    await ws.close()


async def test_origin_checked_against_allow_list(shared_api):
    api = shared_api
    user = await register(api.base)
    t = await ticket(api.base, user)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{api.ws}?ticket={t}", origin="https://evil.example")
    assert refused.value.response.status_code == 403
    # The refused handshake did not spend the ticket; a native client without Origin is
    # allowed by default (WS_ALLOW_MISSING_ORIGIN=true).
    ws = await websockets.connect(f"{api.ws}?ticket={t}")
    assert (await recv(ws))["type"] == "ready"
    await ws.close()


async def test_missing_origin_refused_when_settings_say_so(apis):
    api = await apis.start(ws_allow_missing_origin="false")
    user = await register(api.base)
    t = await ticket(api.base, user)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{api.ws}?ticket={t}")
    assert refused.value.response.status_code == 403
    ws = await websockets.connect(f"{api.ws}?ticket={t}", origin=ORIGIN)
    assert (await recv(ws))["type"] == "ready"
    await ws.close()


async def test_reused_expired_and_missing_tickets_close_4001(apis):
    api = await apis.start(realtime_ticket_ttl_seconds=1)
    user = await register(api.base)
    t = await ticket(api.base, user)
    first = await websockets.connect(f"{api.ws}?ticket={t}", origin=ORIGIN)
    assert (await recv(first))["type"] == "ready"
    again = await websockets.connect(f"{api.ws}?ticket={t}", origin=ORIGIN)
    assert await expect_close(again) == (4001, "invalid or expired ticket")
    stale = await ticket(api.base, user)
    await asyncio.sleep(1.6)
    late = await websockets.connect(f"{api.ws}?ticket={stale}", origin=ORIGIN)
    assert (await expect_close(late))[0] == 4001
    none = await websockets.connect(api.ws, origin=ORIGIN)
    assert (await expect_close(none))[0] == 4001
    # The first connection is unaffected.
    await send(first, {"type": "ping", "ref": "p1"})
    assert await recv(first) == {"type": "pong", "ref": "p1"}
    await first.close()


async def test_ticket_requires_authentication(shared_api):
    api = shared_api
    async with httpx.AsyncClient(base_url=api.base) as client:
        r = await client.post("/api/v1/realtime/ticket")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_tickets_never_reach_the_logs(apis):
    """uvicorn logs WebSocket handshakes with their query string; tickets must not leak."""
    api = await apis.start(log_level="DEBUG")
    user = await register(api.base)
    used = []
    for _ in range(2):
        t = await ticket(api.base, user)
        used.append(t)
        ws = await websockets.connect(f"{api.ws}?ticket={t}", origin=ORIGIN)
        await recv(ws)
        await ws.close()
    bad = await ticket(api.base, user)
    used.append(bad)
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{api.ws}?ticket={bad}", origin="https://evil.example")
    await asyncio.sleep(0.5)
    log = api.log_text()
    assert "/ws" in log  # the handshakes were logged ...
    for t in used:
        assert t not in log  # ... without their tickets


async def test_someone_elses_channel_is_refused_and_the_socket_stays(shared_api, redis):
    api = shared_api
    alice, bob = await register(api.base), await register(api.base)
    ws = await connect(api, alice)
    for channel in (bob.channel, "family:0123456789abcdef01234567", "nosuch:abc"):
        await send(ws, {"type": "subscribe", "channel": channel, "ref": "s"})
        reply = await recv(ws)
        assert reply == {
            "type": "error",
            "code": "FORBIDDEN_CHANNEL",
            "message": reply["message"],
            "channel": channel,
            "ref": "s",
        }
    await subscribe(ws, alice.channel)
    bus = EventBus(redis)
    await bus.publish(bob.channel, "test.secret", {})
    await bus.publish(alice.channel, "test.mine", {})
    [event] = await recv_events(ws, 1)
    assert event["type"] == "test.mine"
    await ws.close()


async def test_malformed_frames_get_bad_frame_and_the_socket_stays(shared_api):
    api = shared_api
    user = await register(api.base)
    ws = await connect(api, user)
    bad_frames = [
        "not json",
        "{}",
        '{"type": "nope"}',
        '{"type": "subscribe"}',
        '{"type": "subscribe", "channel": "no spaces allowed"}',
        '{"type": "subscribe", "channel": "user:x", "extra": 1}',
        '{"type": "subscribe", "channel": "user:x", "since": {"offset": -1}}',
        "[1, 2]",
    ]
    for raw in bad_frames:
        await ws.send(raw)
        reply = await recv(ws)
        assert reply["type"] == "error" and reply["code"] == "BAD_FRAME", (raw, reply)
    await ws.send(b"\x00binary")
    assert (await recv(ws))["code"] == "BAD_FRAME"
    await send(ws, {"type": "unsubscribe", "channel": user.channel})
    assert (await recv(ws))["code"] == "NOT_SUBSCRIBED"
    await send(ws, {"type": "ping"})
    assert await recv(ws) == {"type": "pong"}
    await ws.close()


async def test_one_megabyte_frame_closes_1009_and_others_keep_going(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    bystander = await connect(api, user)
    await subscribe(bystander, user.channel)
    big = await connect(api, user, max_size=None)
    await big.send(json.dumps({"type": "ping", "ref": "x" * (1024 * 1024)}))
    assert (await expect_close(big))[0] == 1009
    await EventBus(redis).publish(user.channel, "test.after", {})
    [event] = await recv_events(bystander, 1)
    assert event["type"] == "test.after"
    await bystander.close()


async def test_subscribe_flood_closes_4029_and_others_keep_going(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    bystander = await connect(api, user)
    await subscribe(bystander, user.channel)
    flooder = await connect(api, user)
    frames = [
        json.dumps({"type": "subscribe", "channel": f"test:open-{i}", "ref": str(i)})
        for i in range(1000)
    ]
    answers: dict[str, int] = {}

    async def flood() -> None:
        for frame in frames:
            await flooder.send(frame)
            await asyncio.sleep(0.001)  # ~1,000 frames per second

    sender = asyncio.create_task(flood())
    try:
        while True:
            frame = await recv(flooder, 10)
            answers[frame["type"]] = answers.get(frame["type"], 0) + 1
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4029
    sender.cancel()
    # Frames before the cut got their answer: a subscription, or TOO_MANY_SUBSCRIPTIONS once
    # WS_MAX_SUBSCRIPTIONS (100) are held; the burst allowance (100) ends it with 4029.
    assert set(answers) <= {"subscribed", "error"}
    assert 90 <= answers.get("subscribed", 0) <= 100
    assert sum(answers.values()) >= 90
    await EventBus(redis).publish(user.channel, "test.still_here", {})
    [event] = await recv_events(bystander, 1)
    assert event["type"] == "test.still_here"
    await bystander.close()


async def test_logout_closes_the_socket_within_one_second(shared_api):
    api = shared_api
    user = await register(api.base)
    other_session = await login(api.base, user)
    ws = await connect(api, user)
    survivor = await connect(api, other_session)
    async with httpx.AsyncClient(base_url=api.base) as client:
        started = asyncio.get_running_loop().time()
        r = await client.post("/api/v1/auth/logout", headers=user.headers)
        assert r.status_code == 204
    code, reason = await expect_close(ws, timeout=2)
    elapsed = asyncio.get_running_loop().time() - started
    assert (code, reason) == (4002, "session revoked")
    assert elapsed < 1.0
    await send(survivor, {"type": "ping"})
    assert (await recv(survivor))["type"] in ("pong", "event")
    await survivor.close()


async def test_losing_access_ends_the_subscription_with_an_event(shared_api, redis):
    api = shared_api
    user = await register(api.base)
    channel = "test:gate-1"
    gate = f"rtgate:{channel}:{user.id}"
    await redis.set(gate, "1")
    ws = await connect(api, user)
    await subscribe(ws, channel)
    bus = EventBus(redis)
    await bus.publish(channel, "test.before", {})
    await redis.delete(gate)
    await bus.publish(channel, "test.gate_changed", {})
    await bus.publish(channel, "test.after", {})
    frames = []
    while len(frames) < 3:
        frame = await recv(ws)
        if frame["type"] != "presence":  # test channels have presence
            frames.append(frame)
    assert [f.get("event", {}).get("type") or f["type"] for f in frames] == [
        "test.before",
        "test.gate_changed",
        "unsubscribed",
    ]
    assert frames[2] == {"type": "unsubscribed", "channel": channel, "reason": "forbidden"}
    with pytest.raises(asyncio.TimeoutError):
        await recv(ws, timeout=0.5)
    await ws.close()


@pytest.mark.slow
async def test_token_expiry_closes_4001_unless_auth_refresh_extends(apis):
    api = await apis.start(access_token_ttl_seconds=30)
    user = await register(api.base)
    other = await login(api.base, user)
    started = asyncio.get_running_loop().time()
    lapsing = await connect(api, user)
    extended = await connect(api, user)
    # A token of another session cannot extend this connection.
    await send(extended, {"type": "auth.refresh", "accessToken": other.access, "ref": "r0"})
    refused = await recv(extended)
    # Its own code (issue 16: INVALID_TOKEN meant bad, expired and another session's token).
    assert refused["code"] == "TOKEN_SESSION_MISMATCH"
    assert (refused["type"], refused["ref"]) == ("error", "r0")
    await asyncio.sleep(3)
    async with httpx.AsyncClient(base_url=api.base) as client:
        r = await client.post("/api/v1/auth/refresh", json={"refreshToken": user.refresh})
        assert r.status_code == 200, r.text
        fresh = r.json()["accessToken"]
    await send(extended, {"type": "auth.refresh", "accessToken": fresh, "ref": "r1"})
    reply = await recv(extended)
    assert reply["type"] == "auth.refreshed" and reply["ref"] == "r1"
    assert datetime.fromisoformat(reply["expiresAt"]).tzinfo is not None  # ISO 8601, as REST
    code, reason = await expect_close(lapsing, timeout=40)
    elapsed = asyncio.get_running_loop().time() - started
    assert (code, reason) == (4001, "token expired")
    assert 28 <= elapsed <= 33
    await send(extended, {"type": "ping"})
    assert (await recv(extended))["type"] == "pong"  # still open past the first expiry
    await extended.close()
