"""Fixed-window rate limits and the growing login delay, both in Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from server.core.errors import RateLimited

_HIT_LUA = """
local n = redis.call('INCRBY', KEYS[1], ARGV[2] or 1)
if n == tonumber(ARGV[2] or 1) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""

# Take one count back (a request refused for a reason that must not count); never creates
# a key (a window that ended meanwhile stays ended).
_TAKE_BACK_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT_LUA)
        self._take_back = redis.register_script(_TAKE_BACK_LUA)

    async def hit(self, bucket: str, key: str, *, limit: int, window: int) -> None:
        """Count one request; raise 429 with `Retry-After` once `limit` is passed in `window` s."""
        count, ttl = await self.count(bucket, key, window=window)
        self.check(count, ttl, limit=limit)

    async def count(self, bucket: str, key: str, *, window: int) -> tuple[int, int]:
        """Count one request; (the window's count, its seconds left) for `check` later (so
        the count can share its round trip's time with other lookups)."""
        count, ttl = await self._script(keys=[f"{self._prefix}:{bucket}:{key}"], args=[window, 1])
        return int(count), int(ttl)

    async def take_back(self, bucket: str, key: str) -> None:
        """Undo one `count` of a request that was then refused for another reason."""
        await self._take_back(keys=[f"{self._prefix}:{bucket}:{key}"])

    def queue_hit(
        self, pipe: Pipeline, bucket: str, key: str, *, window: int, amount: int = 1
    ) -> None:
        """Queue `amount` counts on a pipeline (so several limits share one round trip); pass
        the pipeline's answer to `check`. A bare EVALSHA: redis-py's script object would
        add a `SCRIPT EXISTS` round trip to every pipeline; run it with `pipelined`."""
        pipe.evalsha(self._script.sha, 1, f"{self._prefix}:{bucket}:{key}", window, amount)

    async def pipelined(self, build: Callable[[Pipeline], None]) -> list[Any]:
        """Run the commands `build` queues in one round trip. When Redis does not know the
        script (a new or flushed Redis), load it once and run them again: a NOSCRIPT
        EVALSHA counted nothing, and what shares its round trip only reads."""
        for attempt in (1, 2):
            async with self._redis.pipeline(transaction=False) as pipe:
                build(pipe)
                try:
                    return await pipe.execute()
                except NoScriptError:
                    if attempt == 2:
                        raise
            await self._redis.script_load(_HIT_LUA)
        raise AssertionError("unreachable")

    @staticmethod
    def check(count: int, ttl: int, *, limit: int) -> None:
        if int(count) > limit:
            raise RateLimited("Too many requests. Try again later.", retry_after=int(ttl))


class _Count:
    __slots__ = ("expires_at", "pending", "remote")

    def __init__(self) -> None:
        self.remote = 0  # the Redis count at the last flush (plus what is being flushed)
        self.pending = 0  # hits counted here, not yet told to Redis
        self.expires_at = 0.0  # when the Redis window ends (0: never flushed)


# A key is flushed at least every `limit // LIMIT_SHARE`-th hit, whatever the batch: N
# processes overshoot a limit by at most N x limit / LIMIT_SHARE (an eighth per process).
LIMIT_SHARE = 8


class BatchedCounts:
    """Per-process pre-counting of the fixed-window limits: Redis hears every `batch`-th hit.

    Why: the per-IP and per-account counters cost a Redis round trip on every authenticated
    request. Here a key's first hit in a window and then every b-th is flushed (one INCRBY
    of the hits in between), b = min(batch, limit // LIMIT_SHARE) (at least 1); the check
    uses the last Redis count plus the local ones, so one process alone is exact, and N
    processes together let at most N x (b - 1) requests past a limit: never more than
    N x limit / 8, so a small limit keeps a small batch. `batch = 1` asks Redis every hit.
    """

    def __init__(
        self, batch: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.batch = max(1, batch)
        self._max = max_keys
        self._clock = clock
        self._counts: dict[str, _Count] = {}

    def hit(self, key: str, *, limit: int) -> int:
        """Count one hit; the number of hits to flush to Redis now (0: none). Raises 429
        when the known count is past `limit`."""
        now = self._clock()
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= self._max:
                self._prune(now)
            count = self._counts[key] = _Count()
        if count.expires_at and now >= count.expires_at:
            count.remote, count.expires_at = 0, 0.0  # Redis let the window go
        count.pending += 1
        if count.remote + count.pending > limit:
            retry = int(count.expires_at - now) + 1 if count.expires_at else 1
            raise RateLimited("Too many requests. Try again later.", retry_after=retry)
        if count.expires_at and count.pending < min(self.batch, limit // LIMIT_SHARE):
            return 0
        flush, count.pending = count.pending, 0
        count.remote += flush
        return flush

    def flushed(self, key: str, remote: int, ttl: int) -> None:
        """Redis's answer to a flush: its count and the window's remaining seconds."""
        count = self._counts.get(key)
        if count is None:
            return
        count.remote = max(count.remote, int(remote))
        count.expires_at = self._clock() + max(int(ttl), 1)

    def _prune(self, now: float) -> None:
        self._counts = {k: c for k, c in self._counts.items() if c.expires_at > now}
        if len(self._counts) >= self._max:
            self._counts.clear()


class LoginThrottle:
    """After `max_failures` failures within `window` s, each further attempt must wait.

    The wait doubles per failure (1 s, 2 s, 4 s … up to `max_delay`) and everything resets on
    success or when the window passes: never a permanent lock that anyone could trigger.
    """

    def __init__(self, redis: Redis, *, max_failures: int, window: int, max_delay: int) -> None:
        self._redis = redis
        self._max_failures = max_failures
        self._window = window
        self._max_delay = max_delay

    @staticmethod
    def _keys(subject: str) -> tuple[str, str]:
        return f"auth:fail:{subject}", f"auth:delay:{subject}"

    async def check(self, subject: str) -> None:
        _, delay_key = self._keys(subject)
        ttl = await self._redis.pttl(delay_key)
        if ttl and ttl > 0:
            raise RateLimited(
                "Too many failed attempts. Wait before trying again.",
                retry_after=(ttl + 999) // 1000,
                code="LOGIN_THROTTLED",
            )

    async def failure(self, subject: str) -> None:
        fail_key, delay_key = self._keys(subject)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(fail_key)
            pipe.expire(fail_key, self._window)
            count, _ = await pipe.execute()
        excess = int(count) - self._max_failures
        if excess >= 0:
            delay = min(2**excess, self._max_delay)
            await self._redis.set(delay_key, "1", ex=delay)

    async def success(self, subject: str) -> None:
        await self._redis.delete(*self._keys(subject))
