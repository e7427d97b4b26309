"""Feeds the hot liveness cache (`HotSessions`) with the `session.revoked` events.

Why: the cache trusts a session confirmed live for AUTH_HOT_CACHE_SECONDS, so a session
revoked through *another* api process was served here for up to that long. Every api
process now listens (one pattern subscription on the user channels' live pub/sub) and
forgets the named sessions as soon as the event is published, usually within
milliseconds. Pub/sub is best effort: a message lost while Redis reconnects is covered by
the time bound, which stays the guarantee; while Redis is down, liveness asks MongoDB.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from redis.asyncio import Redis

from auth.liveness import HotSessions
from realtime.bus import live_channel
from server.core.channels import user_channel
from server.core.degraded import REDIS_ERRORS

log = logging.getLogger("auth.revocation_feed")

PATTERN = live_channel(user_channel("*"))
_MARK = b'"session.revoked"'
_RETRY_MAX = 5.0
STOP_SECONDS = 2.0
_LOST: tuple[type[BaseException], ...] = (*REDIS_ERRORS, OSError)


class _RevokedData(msgspec.Struct, rename="camel"):
    session_ids: list[str] = []


class _Revoked(msgspec.Struct):
    type: str
    data: _RevokedData


_decoder = msgspec.json.Decoder(_Revoked)


def revoked_ids(raw: bytes | str) -> list[str]:
    """The session ids a live event revokes; [] for any other event (cheap: a byte search
    first, so the other user events are never decoded)."""
    if isinstance(raw, str):
        raw = raw.encode()
    if _MARK not in raw:
        return []
    try:
        event = _decoder.decode(raw)
    except msgspec.DecodeError:
        return []
    return event.data.session_ids if event.type == "session.revoked" else []


class RevocationFeed:
    __slots__ = ("_hot", "_redis", "_task", "received")

    def __init__(self, redis: Redis, hot: HotSessions) -> None:
        self._redis = redis
        self._hot = hot
        self._task: asyncio.Task[None] | None = None
        self.received = 0  # revocation events applied (tests, metrics)

    def start(self) -> None:
        if self._task is None and self._hot.seconds > 0:
            self._task = asyncio.create_task(self._run(), name="auth-revocation-feed")

    async def stop(self) -> None:
        """Cancel the listener, waiting at most STOP_SECONDS: closing a pub/sub connection
        that is cancelled mid-read can wait on the socket, and a shutdown must not hang on
        it (an app's teardown hung intermittently in test_realtime_contract)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            log.warning("revocation feed did not stop within %.1f s; left behind", STOP_SECONDS)
        elif not task.cancelled() and task.exception() is not None:
            log.warning("revocation feed ended with %r", task.exception())

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(PATTERN)
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        ids = revoked_ids(message["data"])
                        if ids:
                            self._hot.forget(ids)
                            self.received += 1
            except _LOST as exc:
                log.warning("revocation feed lost redis (%s); retrying", type(exc).__name__)
            except Exception:
                log.exception("revocation feed failed; restarting it")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)
