"""Fixed-window rate limits and the growing login delay, both in Redis."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from server.core.errors import RateLimited

_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT_LUA)

    async def hit(self, bucket: str, key: str, *, limit: int, window: int) -> None:
        """Count one request; raise 429 with `Retry-After` once `limit` is passed in `window` s."""
        count, ttl = await self._script(keys=[f"{self._prefix}:{bucket}:{key}"], args=[window])
        self.check(count, ttl, limit=limit)

    async def queue_hit(self, pipe: Pipeline, bucket: str, key: str, *, window: int) -> None:
        """Queue one count on a pipeline (so several limits share one round trip); pass the
        pipeline's answer to `check`."""
        await self._script(keys=[f"{self._prefix}:{bucket}:{key}"], args=[window], client=pipe)

    @staticmethod
    def check(count: int, ttl: int, *, limit: int) -> None:
        if int(count) > limit:
            raise RateLimited("Too many requests. Try again later.", retry_after=int(ttl))


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
