"""Issue 18: the authenticated read without Redis round trips still refuses revoked sessions
and still counts every request against the limits."""

from __future__ import annotations

import asyncio
import time

import pytest
from bson import ObjectId

from auth.documents import AuthSession
from server.core.clock import utcnow
from tests.helpers import assert_error, register

pytestmark = pytest.mark.integration

ME = "/api/v1/auth/me"


async def test_revoked_session_is_refused_by_another_process_within_the_bound(app_factory, redis):
    """Regression: with the in-process liveness cache, an api process that had just served a
    session kept serving it after another process revoked it. It must refuse it at most
    AUTH_HOT_CACHE_SECONDS later. Another process's revocation is what it leaves behind:
    the Redis marker and `revoked_at` in MongoDB (two apps cannot share one test process:
    Beanie binds its documents to one client). The first version of the cache failed this:
    each request it answered refreshed its own entry, so a busy session never expired."""
    async with app_factory(auth_hot_cache_seconds=1.0) as client:
        user = await register(client)
        assert (await client.get(ME, headers=user["headers"])).status_code == 200  # warm
        session_id = user["refreshToken"].split(".")[0]
        await redis.delete(f"auth:sess:{session_id}")
        await redis.set(f"auth:revoked:{session_id}", "revoked_by_user", ex=3600)
        await AuthSession.get_pymongo_collection().update_one(
            {"_id": ObjectId(session_id)},
            {"$set": {"revoked_at": utcnow(), "revoked_reason": "revoked_by_user"}},
        )
        deadline = time.monotonic() + 5.0  # the bound (1 s) plus generous slack for a busy box
        while (await client.get(ME, headers=user["headers"])).status_code == 200:
            assert time.monotonic() < deadline, "still served long after the revocation"
            await asyncio.sleep(0.1)
        assert_error(await client.get(ME, headers=user["headers"]), 401, "SESSION_REVOKED")


async def test_revocation_through_this_process_is_refused_at_once(app_factory):
    """The process that revokes a session forgets its cached liveness immediately."""
    async with app_factory(auth_hot_cache_seconds=30.0) as client:
        user = await register(client)
        assert (await client.get(ME, headers=user["headers"])).status_code == 200
        logout = await client.post("/api/v1/auth/logout", headers=user["headers"])
        assert logout.status_code == 204
        assert_error(await client.get(ME, headers=user["headers"]), 401, "SESSION_REVOKED")


async def test_account_limit_is_exact_in_one_process_with_batched_counters(app_factory):
    """Batched counters must not let one process serve past the per-account limit."""
    async with app_factory(
        rate_limit_batch=8,
        rate_limit_auth_per_account_per_minute=12,
        rate_limit_auth_per_ip_per_minute=1000,
    ) as client:
        user = await register(client)
        codes = [(await client.get(ME, headers=user["headers"])).status_code for _ in range(14)]
        assert codes[:12] == [200] * 12
        assert codes[12:] == [429, 429]
        response = await client.get(ME, headers=user["headers"])
        assert_error(response, 429)
        assert int(response.headers["retry-after"]) >= 1


async def test_bare_evalsha_counts_after_redis_forgets_the_script(redis):
    """The limit pipeline sends a bare EVALSHA (no `SCRIPT EXISTS` round trip each time). A
    Redis that does not know the script (new, restarted, flushed) answers NOSCRIPT: the
    script must be loaded and the counts still made, exactly once each."""
    from auth.ratelimit import RateLimiter

    limits = RateLimiter(redis, prefix="rl-evalsha-test")
    await redis.script_flush()

    def build(pipe):
        limits.queue_hit(pipe, "b", "k", window=60, amount=3)
        pipe.get("rl-evalsha-test:b:k")

    (count, ttl), stored = await limits.pipelined(build)
    assert count == 3 and 0 < ttl <= 60 and stored == b"3"
    (count, _), _ = await limits.pipelined(build)  # the script is known now
    assert count == 6


async def test_revocation_event_from_another_process_reaches_the_hot_cache(app_factory, redis):
    """With a long hot-cache bound (30 s), a logout in another api process was served here
    until the bound ran out. The `session.revoked` event it publishes must now be heard
    (the revocation feed) and the session refused within moments, not 30 s. Only the event
    is sent here, so nothing else could refuse it (the cache would answer "live")."""
    from auth.schemas import SessionRevokedEvent
    from realtime.bus import EventBus
    from server.core.channels import user_channel

    async with app_factory(auth_hot_cache_seconds=30.0) as client:
        user = await register(client)
        assert (await client.get(ME, headers=user["headers"])).status_code == 200  # warm
        me = (await client.get(ME, headers=user["headers"])).json()
        session_id = user["refreshToken"].split(".")[0]
        await asyncio.sleep(0.3)  # the feed's subscription is made at start-up, off the path
        await EventBus(redis).publish(
            user_channel(me["id"]),
            "session.revoked",
            SessionRevokedEvent(session_ids=[session_id], reason="logout"),
        )
        deadline = time.monotonic() + 5.0  # far below the 30 s bound
        while (await client.get(ME, headers=user["headers"])).status_code == 200:
            assert time.monotonic() < deadline, "the revocation event did not reach the cache"
            await asyncio.sleep(0.05)
        assert_error(await client.get(ME, headers=user["headers"]), 401, "SESSION_REVOKED")
