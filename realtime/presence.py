"""Presence: who is online in a family/workspace channel, from heartbeats with a Redis TTL.

`rt:{<channel>}:presence` is a sorted set; a member is `userId|username|connectionId`, its
score the time (ms) at which it expires unless heartbeated again. Nothing depends on a
disconnect being seen: a crashed process's connections simply stop heartbeating and fall out
after the TTL (reads ignore expired members; every heartbeat also purges them and, when the
set of online users changes, publishes a `presence` frame on `rt:presence:<channel>`).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from redis.asyncio import Redis

from realtime.protocol import Presence, PresenceMember, encode_frame
from realtime.subscriber import PRESENCE_PREFIX

# KEYS[1] set; ARGV: now_ms, expiry_ms, member, ttl_ms. Returns {changed, members...}.
_TOUCH_LUA = """
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if removed > 0 or added > 0 then
  return {1, unpack(redis.call('ZRANGE', KEYS[1], 0, -1))}
end
return {0}
"""

# KEYS[1] set; ARGV: now_ms, member. Returns {changed, members...}.
_LEAVE_LUA = """
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local gone = redis.call('ZREM', KEYS[1], ARGV[2])
if removed > 0 or gone > 0 then
  return {1, unpack(redis.call('ZRANGE', KEYS[1], 0, -1))}
end
return {0}
"""


def presence_key(channel: str) -> str:
    return f"rt:{{{channel}}}:presence"


def presence_channel(channel: str) -> str:
    return f"{PRESENCE_PREFIX}{channel}"


def _online(members: Any) -> list[PresenceMember]:
    seen: dict[str, PresenceMember] = {}
    for raw in members:
        text = raw.decode() if isinstance(raw, bytes) else raw
        user_id, _, rest = text.partition("|")
        username = rest.rpartition("|")[0]
        if user_id not in seen:
            seen[user_id] = PresenceMember(user_id=user_id, username=username)
    return sorted(seen.values(), key=lambda m: m.username)


class PresenceTracker:
    def __init__(self, redis: Redis, *, ttl: int) -> None:
        self._redis = redis
        self.ttl = ttl
        self._touch = redis.register_script(_TOUCH_LUA)
        self._leave = redis.register_script(_LEAVE_LUA)

    @staticmethod
    def member(user_id: str, username: str, connection_id: str) -> str:
        return f"{user_id}|{username}|{connection_id}"

    async def touch(self, channels: list[str], member: str) -> None:
        """Join or heartbeat `member` in each channel; announce changes."""
        now = int(time.time() * 1000)
        for channel in channels:
            result = await self._touch(
                keys=[presence_key(channel)],
                args=[now, now + self.ttl * 1000, member, self.ttl * 1000 + 1000],
            )
            if result and int(result[0]):
                await self._announce(channel, result[1:])

    async def leave(self, channels: list[str], member: str) -> None:
        now = int(time.time() * 1000)
        for channel in channels:
            result = await self._leave(keys=[presence_key(channel)], args=[now, member])
            if result and int(result[0]):
                await self._announce(channel, result[1:])

    async def online(self, channel: str) -> list[PresenceMember]:
        now = int(time.time() * 1000)
        members = await self._redis.zrangebyscore(presence_key(channel), now, "+inf")
        return _online(members)

    async def _announce(self, channel: str, members: list[bytes]) -> None:
        frame = Presence(channel=channel, online=_online(members))
        await self._redis.publish(presence_channel(channel), encode_frame(frame))


def presence_view(channel: str, online: list[PresenceMember]) -> dict[str, object]:
    return msgspec.to_builtins(Presence(channel=channel, online=online))
