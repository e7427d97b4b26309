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

# Both scripts return {} when nothing changed, else {#before, before..., after...}: the members
# before and after, so the caller announces only a change of the online *users* (a second tab
# of a user already online, or one of two tabs leaving, sends no frame).
_BEFORE_AFTER = """
  local out = {#before}
  for _, m in ipairs(before) do out[#out + 1] = m end
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do out[#out + 1] = m end
  return out
"""

# KEYS[1] set; ARGV: now_ms, expiry_ms, member, ttl_ms.
_TOUCH_LUA = (
    """
local before = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if removed > 0 or added > 0 then"""
    + _BEFORE_AFTER
    + """end
return {}
"""
)

# KEYS[1] set; ARGV: now_ms, member.
_LEAVE_LUA = (
    """
local before = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local gone = redis.call('ZREM', KEYS[1], ARGV[2])
if removed > 0 or gone > 0 then"""
    + _BEFORE_AFTER
    + """end
return {}
"""
)


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
            await self._announce_change(channel, result)

    async def leave(self, channels: list[str], member: str) -> None:
        now = int(time.time() * 1000)
        for channel in channels:
            result = await self._leave(keys=[presence_key(channel)], args=[now, member])
            await self._announce_change(channel, result)

    async def online(self, channel: str) -> list[PresenceMember]:
        now = int(time.time() * 1000)
        members = await self._redis.zrangebyscore(presence_key(channel), now, "+inf")
        return _online(members)

    async def _announce_change(self, channel: str, result: list[Any] | None) -> None:
        """Publish a `presence` frame if the online users differ before and after."""
        if not result:
            return
        split = 1 + int(result[0])
        before, after = _online(result[1:split]), _online(result[split:])
        if before == after:
            return
        frame = Presence(channel=channel, online=after)
        await self._redis.publish(presence_channel(channel), encode_frame(frame))


def presence_view(channel: str, online: list[PresenceMember]) -> dict[str, object]:
    return msgspec.to_builtins(Presence(channel=channel, online=online))
