"""Presence from heartbeats with a Redis TTL: ghosts of a killed process disappear."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.realtime_support import connect, recv, register, send, subscribe

pytestmark = pytest.mark.e2e

ROOM = "test:open-room"


async def _online(api, user) -> list[str]:
    async with httpx.AsyncClient(base_url=api.base) as client:
        r = await client.get(f"/api/v1/presence/{ROOM}", headers=user.headers)
        assert r.status_code == 200, r.text
        return sorted(m["userId"] for m in r.json()["online"])


async def _ghost_disappears(apis, ttl: int | None, limit: float) -> None:
    settings = {"presence_ttl_seconds": ttl} if ttl else {}
    a, b = await apis.start(**settings), await apis.start(**settings)
    ghost, watcher = await register(a.base), await register(a.base)
    ws_ghost = await connect(a, ghost)
    ws_watch = await connect(b, watcher)
    interval = await _ready_interval(b, watcher)
    await subscribe(ws_ghost, ROOM)
    await subscribe(ws_watch, ROOM)
    assert await _online(b, watcher) == sorted([ghost.id, watcher.id])

    a.kill()  # kill -9: no disconnect is ever seen
    killed = time.monotonic()
    gone_frame = None
    while gone_frame is None:
        assert time.monotonic() - killed < limit, "ghost still online"
        await send(ws_watch, {"type": "presence.heartbeat"})
        try:
            while True:
                frame = await recv(ws_watch, timeout=interval, presence=True)
                if frame["type"] == "presence" and [m["userId"] for m in frame["online"]] == [
                    watcher.id
                ]:
                    gone_frame = frame
                    break
        except TimeoutError:
            pass
    assert time.monotonic() - killed < limit
    assert await _online(b, watcher) == [watcher.id]
    await ws_watch.close()


async def _ready_interval(api, user) -> float:
    ws = await connect(api, user)
    await ws.close()
    # `ready.heartbeatInterval` is TTL // 3; the tests heartbeat at that pace.
    return 1.0


async def test_ghost_of_a_killed_process_disappears_quickly_with_a_short_ttl(apis):
    await _ghost_disappears(apis, ttl=3, limit=8)


async def test_presence_frames_and_endpoint_follow_joins_and_leaves(apis):
    api = await apis.start()
    alice, bob = await register(api.base), await register(api.base)
    ws_a = await connect(api, alice)
    await subscribe(ws_a, ROOM)
    ws_b = await connect(api, bob)
    await subscribe(ws_b, ROOM)
    frame = await recv(ws_a, presence=True)
    while frame["type"] != "presence" or len(frame["online"]) != 2:
        frame = await recv(ws_a, presence=True)
    assert {m["username"] for m in frame["online"]} == {alice.username, bob.username}
    await ws_b.close()
    frame = await recv(ws_a, presence=True)
    while frame["type"] != "presence" or len(frame["online"]) != 1:
        frame = await recv(ws_a, presence=True)
    assert frame["online"][0]["userId"] == alice.id
    async with httpx.AsyncClient(base_url=api.base) as client:
        r = await client.get(f"/api/v1/presence/{alice.channel}", headers=alice.headers)
        assert r.status_code == 403  # no presence on user channels
    await ws_a.close()


@pytest.mark.slow
async def test_ghost_disappears_within_45_seconds_at_default_settings(apis):
    await _ghost_disappears(apis, ttl=None, limit=45)
