"""Issue 18's in-process shortcuts: the session hot cache and the batched rate counters."""

from __future__ import annotations

import pytest

from auth.liveness import HotSessions
from auth.ratelimit import BatchedCounts
from server.core.errors import RateLimited

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hot_session_answer_expires_after_the_bound():
    clock = Clock()
    hot = HotSessions(2.0, clock=clock)
    assert hot.get("s1") is None
    hot.mark_live("s1")
    assert hot.get("s1") is True
    clock.now += 1.9
    assert hot.get("s1") is True
    clock.now += 0.2
    assert hot.get("s1") is None  # stale: Redis must be asked again


def test_forgotten_session_is_refused_and_never_marked_live_again():
    """A revocation seen here must win over a liveness answer that arrives later (a Redis
    reply read before the revocation was written)."""
    hot = HotSessions(5.0, clock=Clock())
    hot.mark_live("s1")
    hot.forget(["s1"])
    assert hot.get("s1") is False
    hot.mark_live("s1")
    assert hot.get("s1") is False


def test_hot_cache_off_and_bounded():
    off = HotSessions(0.0, clock=Clock())
    off.mark_live("s1")
    assert off.get("s1") is None
    small = HotSessions(5.0, max_entries=3, clock=Clock())
    small.forget([f"r{i}" for i in range(10)])
    assert small.get("r9") is False and small.get("r0") is None  # oldest revocations dropped
    for i in range(10):
        small.mark_live(f"s{i}")
    assert small.get("s9") is True


def test_batched_counts_flush_first_hit_then_every_batch():
    clock = Clock()
    counts = BatchedCounts(4, clock=clock)
    assert counts.hit("k", limit=100) == 1  # unknown window: tell Redis now
    counts.flushed("k", 1, 60)
    assert [counts.hit("k", limit=100) for _ in range(4)] == [0, 0, 0, 4]
    counts.flushed("k", 5, 59)
    clock.now += 61  # the Redis window ended: start over with a flush
    assert counts.hit("k", limit=100) == 1


def test_batched_counts_are_exact_in_one_process():
    """The local count decides between flushes: the (limit+1)-th hit is refused even though
    Redis has not heard of the last ones yet."""
    counts = BatchedCounts(8, clock=Clock())
    counts.hit("k", limit=5)
    counts.flushed("k", 1, 60)
    for _ in range(4):
        counts.hit("k", limit=5)
    with pytest.raises(RateLimited) as info:
        counts.hit("k", limit=5)
    assert 1 <= info.value.retry_after <= 61


def test_batched_counts_learn_other_processes_from_redis():
    counts = BatchedCounts(8, clock=Clock())
    counts.hit("k", limit=10)
    counts.flushed("k", 10, 30)  # other processes used the whole allowance
    with pytest.raises(RateLimited):
        counts.hit("k", limit=10)


def test_batch_of_one_asks_redis_every_time():
    counts = BatchedCounts(1, clock=Clock())
    for n in range(1, 4):
        assert counts.hit("k", limit=100) == 1
        counts.flushed("k", n, 60)


def test_revocation_feed_reads_only_session_revoked_events():
    """The feed hears every user-channel event; only `session.revoked` may forget sessions,
    and a malformed one must not break it."""
    from auth.revocation_feed import revoked_ids

    revoked = b'{"offset":3,"epoch":"e","channel":"user:1","type":"session.revoked",'
    revoked += b'"data":{"sessionIds":["a","b"],"reason":"logout"},"ts":1.0}'
    assert revoked_ids(revoked) == ["a", "b"]
    assert revoked_ids(revoked.decode()) == ["a", "b"]
    other = b'{"offset":4,"epoch":"e","channel":"user:1","type":"notification.created",'
    other += b'"data":{"title":"\\"session.revoked\\""},"ts":1.0}'
    assert revoked_ids(other) == []
    assert revoked_ids(b'{"type":"session.revoked", broken') == []


def test_batch_is_capped_by_an_eighth_of_the_limit():
    """RATE_LIMIT_BATCH went from 8 to 32 (issue 18, third round): a small limit must keep a
    small batch, so N processes never overshoot a limit by more than N x limit / 8."""
    clock = Clock()
    counts = BatchedCounts(32, clock=clock)
    assert counts.hit("big", limit=10_000) == 1
    counts.flushed("big", 1, 60)
    assert [counts.hit("big", limit=10_000) for _ in range(32)] == [0] * 31 + [32]
    assert counts.hit("small", limit=60) == 1  # 60 // 8 = 7: flushed every 7th hit
    counts.flushed("small", 1, 60)
    assert [counts.hit("small", limit=60) for _ in range(7)] == [0] * 6 + [7]
    assert counts.hit("tiny", limit=5) == 1  # under 8: every hit goes to Redis
    counts.flushed("tiny", 1, 60)
    assert [counts.hit("tiny", limit=5) for _ in range(3)] == [1, 1, 1]


def test_read_only_guards_get_the_handler_itself_others_a_copy():
    """`guards_without_copies` (issue 18, third round): Litestar copies the route handler
    for every guard call on every request; a read-only guard gets the handler itself, any
    other guard keeps the copy, and a guard's refusal still refuses."""
    from litestar import Litestar, get
    from litestar.exceptions import NotAuthorizedException
    from litestar.testing import TestClient

    from server.lean_guards import guards_without_copies

    seen: dict[str, object] = {}

    async def reader(connection, handler) -> None:
        seen["reader"] = handler
        if connection.headers.get("x-refuse"):
            raise NotAuthorizedException()

    async def other(connection, handler) -> None:
        seen["other"] = handler

    @get("/lean", guards=[reader], sync_to_thread=False)
    def lean() -> str:
        return "ok"

    @get("/copied", guards=[reader, other], sync_to_thread=False)
    def copied() -> str:
        return "ok"

    app = Litestar(route_handlers=[lean, copied])
    assert guards_without_copies(app, read_only={reader}) == 1
    handlers = {
        route.path: route.route_handler_map["GET"][0]
        for route in app.routes
        if route.path in ("/lean", "/copied")
    }
    with TestClient(app) as client:
        assert client.get("/lean").text == "ok"
        assert seen["reader"] is handlers["/lean"]
        assert client.get("/copied").text == "ok"
        assert seen["other"] is not handlers["/copied"]  # Litestar's own copy
        assert client.get("/lean", headers={"x-refuse": "1"}).status_code == 401


async def test_actor_and_client_use_what_the_guard_resolved_for_this_request():
    """The guard resolves the client (trusted proxies) and reads the bearer token; the
    `actor` and `client` dependencies reuse both from the request state (issue 18, third
    round) and fall back to the headers when the guard left no client."""
    from types import SimpleNamespace

    from auth.bearer import PREFETCH_STATE_KEY, Prefetched
    from auth.context import ClientContext
    from auth.dependencies import AUTH_MANAGER_STATE_KEY, provide_actor, provide_client_context
    from auth.liveness import HOT_LIVE

    calls: list[tuple] = []

    class Manager:
        config = SimpleNamespace(trusted_proxies=())

        async def authenticate(self, token, ctx, prefetched):
            calls.append((token, ctx, prefetched))
            return "actor"

    def request(prefetched):
        headers = {"authorization": "Bearer header-token", "user-agent": "ua-header"}
        state = {PREFETCH_STATE_KEY: prefetched} if prefetched else {}
        return SimpleNamespace(
            scope={"state": state},
            app=SimpleNamespace(state={AUTH_MANAGER_STATE_KEY: Manager()}),
            headers=headers,
            client=SimpleNamespace(host="10.0.0.9"),
        )

    client = ClientContext(ip="10.0.0.1", user_agent="ua-guard")
    prefetched = Prefetched("guard-token", object(), HOT_LIVE, client)  # type: ignore[arg-type]
    assert await provide_actor(request(prefetched)) == "actor"
    assert calls[-1] == ("guard-token", client, prefetched)
    assert await provide_client_context(request(prefetched)) is client
    bare = Prefetched("guard-token", object(), HOT_LIVE)  # type: ignore[arg-type]
    await provide_actor(request(bare))
    assert calls[-1] == ("header-token", ClientContext("10.0.0.9", "ua-header"), bare)
    assert await provide_client_context(request(None)) == ClientContext("10.0.0.9", "ua-header")
