"""Resume catch-up: where a channel's stream stands and what a client at (epoch, offset) missed.

Split from `realtime/connection.py`: these are the only Redis reads a connection makes, and
they survive a Redis blip by retrying (the channel stays held meanwhile, so order is kept).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from realtime.subscriber import LiveEvent, decode_event

if TYPE_CHECKING:
    from realtime.bus import EventBus

_REPLAY_PAGE = 500
_RETRY_FIRST = 0.05
_RETRY_MAX = 2.0

# (recovered, epoch, offset, replay)
CatchUpResult = tuple[bool, str | None, int, list[LiveEvent]]


class CatchUp:
    """Stream reads for one connection; `closed()` stops the retries once it is closing."""

    __slots__ = ("_bus", "_closed")

    def __init__(self, bus: EventBus, closed: Callable[[], bool]) -> None:
        self._bus = bus
        self._closed = closed

    async def position(self, channel: str) -> CatchUpResult:
        """The stream's current position, nothing replayed (a subscribe without `since`)."""
        return await self._retrying(lambda: self._position_only(channel))

    async def since(self, channel: str, have_epoch: str | None, have_offset: int) -> CatchUpResult:
        """What a client at (have_epoch, have_offset) missed, or `recovered=False`."""
        return await self._retrying(lambda: self._catch_up(channel, have_epoch, have_offset))

    async def _retrying(self, fn: Callable[[], Awaitable[CatchUpResult]]) -> CatchUpResult:
        delay = _RETRY_FIRST
        while True:
            try:
                return await fn()
            except (RedisError, OSError, TimeoutError):
                if self._closed():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    async def _position_only(self, channel: str) -> CatchUpResult:
        epoch, offset = await self._bus.position(channel)
        return False, epoch, offset, []

    async def _catch_up(
        self, channel: str, have_epoch: str | None, have_offset: int
    ) -> CatchUpResult:
        bus = self._bus
        epoch, position = await bus.position(channel)
        if epoch is None:
            return (have_epoch is None and have_offset == 0), None, 0, []
        if have_epoch is not None and have_epoch != epoch:
            return False, epoch, position, []
        if have_offset > position:
            return False, epoch, position, []
        if have_offset == position:
            return True, epoch, position, []
        replay: list[LiveEvent] = []
        cursor = have_offset
        while True:
            page = await bus.read_since(channel, cursor, limit=_REPLAY_PAGE)
            for raw in page:
                event = decode_event(channel, raw)
                if event.epoch != epoch or event.offset != cursor + 1:
                    return False, epoch, position, []
                replay.append(event)
                cursor = event.offset
            if len(page) < _REPLAY_PAGE or cursor >= position:
                break
        if cursor < position:
            return False, epoch, position, []
        return True, epoch, cursor, replay
