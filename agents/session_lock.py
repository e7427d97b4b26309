"""The chat session lock in Redis (one run per chat at a time) and the turn gate: the user's
message-rate count, whether the thread is still settled, and the lock, in one round trip.

Taking the lock deletes the thread's settled mark (`agents.checkpoint`): a run starts.
"""

from __future__ import annotations

import secrets
from typing import Any

from redis.asyncio import Redis

from agents.checkpoint import settled_key

# KEYS: lock, settled mark; ARGV: token, lock seconds. 1 = taken.
_TAKE_LUA = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: rate count, lock, settled mark; ARGV: window, limit, token, lock seconds, expected
# settled checkpoint id. The count is the rate limiter's (`auth.ratelimit`, bucket "chat").
# {count, ttl, state}: state 1 = settled at the expected checkpoint and locked; 0 = over the
# limit, or settled but the lock is held; -1 = not settled there (nothing taken).
_GATE_LUA = """
local n = redis.call('INCRBY', KEYS[1], 1)
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
if n > tonumber(ARGV[2]) then return {n, ttl, 0} end
if redis.call('GET', KEYS[3]) ~= ARGV[5] then return {n, ttl, -1} end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then return {n, ttl, 0} end
redis.call('DEL', KEYS[3])
return {n, ttl, 1}
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

SETTLED, UNSETTLED, REFUSED = 1, -1, 0


def lock_key(session_id: Any) -> str:
    return f"chat:lock:{session_id}"


class SessionLocks:
    def __init__(self, redis: Redis, *, seconds: int) -> None:
        self.seconds = seconds
        self._take = redis.register_script(_TAKE_LUA)
        self._gate = redis.register_script(_GATE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def take(self, session_id: Any) -> str | None:
        """The lock's token, or None when someone holds it."""
        token = secrets.token_hex(8)
        taken = await self._take(
            keys=[lock_key(session_id), settled_key(str(session_id))], args=[token, self.seconds]
        )
        return token if int(taken) else None

    async def gate(
        self, rate_key: str, session_id: Any, *, window: int, limit: int, expect: str
    ) -> tuple[int, int, int, str]:
        """(count, seconds left in the window, state, token): count one message and, unless
        over the limit, take the lock if the thread is still settled at `expect`."""
        token = secrets.token_hex(8)
        count, ttl, state = await self._gate(
            keys=[rate_key, lock_key(session_id), settled_key(str(session_id))],
            args=[window, limit, token, self.seconds, expect],
        )
        return int(count), int(ttl), int(state), token

    async def release(self, session_id: Any, token: str) -> None:
        await self._release(keys=[lock_key(session_id)], args=[token])
