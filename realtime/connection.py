"""One client connection (WebSocket or SSE): its subscriptions and its bounded outbound queue.

The subscriber calls `on_event` synchronously for every live event. Per channel the connection
remembers the last (epoch, offset) it queued and enforces, whatever happens upstream:

- no duplicates (offset <= last is dropped),
- no silent gaps (offset > last + 1 holds the channel and replays the gap from the stream),
- no silent history loss (a new epoch, or a gap the stream no longer covers, is announced with
  `subscribed {recovered: false}` so the client refetches).

While a channel is held (initial sync, resync after a gap or a Redis reconnect, or an
authorization recheck) its live events wait in `pending`; the stream read and the release
happen on the connection's own writer, so frames leave in order. A WebSocket pushes
(`use_push`: frames are written at once when nothing is queued, a writer task runs only
for a backlog, see `realtime/push.py`); SSE pulls (`outgoing()`).

The queue is bounded: overflow closes the connection with 4008 and drops what was queued,
so memory stays flat however slowly a client reads. Frame types live in `realtime/frames.py`,
the stream reads for sync/resync in `realtime/catchup.py`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from realtime.catchup import CatchUp
from realtime.frames import (
    KEEPALIVE,
    NO_QUEUE,
    ChannelState,
    Item,
    Out,
    Recheck,
    Resync,
    Sync,
    subscribed_out,
)
from realtime.protocol import CLOSE_SLOW_CONSUMER, Since, Unsubscribed, encode_frame
from realtime.push import FrameSink, PushWriter, SendText
from realtime.subscriber import LiveEvent
from server.core.actor import Actor
from server.core.channels import user_channel

if TYPE_CHECKING:
    from realtime.hub import RealtimeHub


class Connection:
    # Slots: one per open socket, thousands of them idle (no per-instance dict, ~1 KiB less).
    __slots__ = (
        "_expiry",
        "_tokens",
        "_tokens_at",
        "_wake",
        "actor",
        "close_code",
        "close_reason",
        "expires_at",
        "hub",
        "id",
        "max_queue",
        "on_close",
        "queue",
        "subs",
        "transport",
        "user_channel",
        "writer",
    )

    def __init__(
        self,
        hub: RealtimeHub,
        actor: Actor,
        *,
        expires_at: float,
        transport: str,
    ) -> None:
        self.hub = hub
        self.actor = actor
        self.id = uuid.uuid4().hex
        self.transport = transport
        self.expires_at = expires_at
        self.user_channel = user_channel(actor.user_id)
        self.subs: dict[str, ChannelState] = {}
        # Shared and empty until something must wait (`push` makes the connection's own;
        # the writer puts NO_QUEUE back once it drained it).
        self.queue: deque[Item] = NO_QUEUE
        self.max_queue = hub.config.queue_max_frames
        self.close_code: int | None = None
        self.close_reason = ""
        self._wake: asyncio.Event | None = None  # pull mode (SSE) only
        self.writer: PushWriter | None = None  # push mode (WebSocket) only
        self.on_close: Callable[[], None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        # inbound rate limit (token bucket)
        self._tokens = float(hub.config.frames_burst)
        self._tokens_at = 0.0

    # ------------------------------------------------------------ lifecycle

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def close(self, code: int, reason: str = "") -> None:
        """Ask the connection to end (from any callback); the writer sends the close."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        self.queue.clear()
        for st in self.subs.values():
            st.pending.clear()
        if self._wake is not None:
            self._wake.set()
        if self.writer is not None:
            # A send blocked on a client that does not read: give it up now.
            self.writer.cancel_send()
        if self._expiry is not None:
            self._expiry.cancel()
        if self.on_close is not None:
            self.on_close()

    def use_push(self, send: SendText, sink: FrameSink | None = None) -> None:
        """Deliver by pushing through `send` (a WebSocket) instead of `outgoing()`; shared
        events through `sink` when the server offers one."""
        self.writer = PushWriter(self, send, sink)

    def schedule_expiry(self, expires_at: float, now_wall: float, code: int) -> None:
        loop = asyncio.get_running_loop()
        if self._expiry is not None:
            self._expiry.cancel()
        self.expires_at = expires_at
        delay = max(0.0, expires_at - now_wall)
        self._expiry = loop.call_later(delay, self.close, code, "token expired")

    def allow_frame(self, now: float) -> bool:
        cfg = self.hub.config
        if self._tokens_at:
            refill = (now - self._tokens_at) * cfg.frames_per_second
            self._tokens = min(float(cfg.frames_burst), self._tokens + refill)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    # ------------------------------------------------------------ queue

    def push(self, item: Item) -> None:
        if self.close_code is not None:
            return
        writer = self.writer
        if (
            writer is not None
            and writer.task is None
            and not self.queue
            and isinstance(item, (LiveEvent, Out))
        ):
            writer.send_now(item)  # the common case: nothing waits, write it now
            return
        if len(self.queue) >= self.max_queue:
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return
        if self.queue is NO_QUEUE:
            self.queue = deque()
        self.queue.append(item)
        if writer is not None:
            writer.kick()
        elif self._wake is not None:
            self._wake.set()

    def push_frame(self, kind: str, text: str) -> None:
        self.push(Out(kind, text))

    def begin_sync(self, st: ChannelState, since: Since | None, ref: str | None) -> None:
        self.push(Sync(st, since, ref))

    # ------------------------------------------------------------ sink callbacks

    def on_event(self, channel: str, event: LiveEvent) -> None:
        if channel == self.user_channel and event.type == "session.revoked":
            self.hub.check_revocation(self, event)
        st = self.subs.get(channel)
        if st is None or self.close_code is not None:
            return
        if st.hold:
            st.pending.append(event)
            if len(st.pending) > self.max_queue:
                self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return
        self._accept(st, event)

    def on_presence(self, channel: str, text: str) -> None:
        st = self.subs.get(channel)
        if st is not None and st.presence:
            self.push(Out("presence", text))

    def on_reset(self, channel: str) -> None:
        st = self.subs.get(channel)
        if st is None:
            return
        if st.hold:
            st.dirty = True
        else:
            st.hold = True
            self.push(Resync(st))

    def _accept(self, st: ChannelState, event: LiveEvent) -> None:
        if st.epoch is not None and event.epoch != st.epoch:
            # The channel's history was lost (Redis restarted or flushed): say so, go on.
            self.push(subscribed_out(st.channel, event.epoch, event.offset - 1, False))
        elif event.offset <= st.offset:
            return
        elif event.offset != st.offset + 1:
            st.hold = True
            st.pending.append(event)
            self.push(Resync(st))
            return
        st.epoch = event.epoch
        st.offset = event.offset
        self.push(event)
        if event.type in st.recheck_on:
            st.hold = True
            self.push(Recheck(st))

    def _release(self, st: ChannelState) -> None:
        pending, st.pending = st.pending, []
        st.hold = False
        for event in pending:
            if st.hold:
                st.pending.append(event)
            else:
                self._accept(st, event)
        if st.dirty and not st.hold:
            st.dirty = False
            st.hold = True
            self.push(Resync(st))

    # ------------------------------------------------------------ writer side

    async def outgoing(self, keepalive: float | None = None) -> AsyncIterator[LiveEvent | Out]:
        """Everything to send, in order, until the connection is closed (pull mode)."""
        wake = self._wake
        if wake is None:
            wake = self._wake = asyncio.Event()
        while self.close_code is None:
            if not self.queue:
                wake.clear()
                if keepalive is None:
                    await wake.wait()
                    continue
                try:
                    async with asyncio.timeout(keepalive):
                        await wake.wait()
                except TimeoutError:
                    yield KEEPALIVE
                continue
            for out in await self.expand(self.queue.popleft()):
                yield out

    async def expand(self, item: Item) -> list[LiveEvent | Out]:
        """The frames a queued item stands for (a sync or resync reads the stream first)."""
        if isinstance(item, (LiveEvent, Out)):
            return [item]
        if isinstance(item, Sync):
            return await self._sync(item.st, item.since, item.ref)
        if isinstance(item, Resync):
            return await self._resync(item.st)
        return await self._recheck(item.st)

    def _catchup(self) -> CatchUp:
        # Made per sync, not kept: an idle connection holds no reader object.
        return CatchUp(self.hub.bus, lambda: self.close_code is not None)

    async def _sync(
        self, st: ChannelState, since: Since | None, ref: str | None
    ) -> list[LiveEvent | Out]:
        reads = self._catchup()
        if since is None:
            recovered, epoch, offset, replay = await reads.position(st.channel)
        else:
            recovered, epoch, offset, replay = await reads.since(
                st.channel, since.epoch, since.offset
            )
        if self.subs.get(st.channel) is not st:
            return []
        out: list[LiveEvent | Out] = [subscribed_out(st.channel, epoch, offset, recovered, ref)]
        out.extend(replay)
        st.epoch, st.offset = epoch, max(offset, replay[-1].offset if replay else 0)
        self._release(st)
        return out

    async def _resync(self, st: ChannelState) -> list[LiveEvent | Out]:
        recovered, epoch, offset, replay = await self._catchup().since(
            st.channel, st.epoch, st.offset
        )
        if self.subs.get(st.channel) is not st:
            return []
        out: list[LiveEvent | Out] = []
        if not recovered:
            out.append(subscribed_out(st.channel, epoch, offset, False))
            st.epoch, st.offset = epoch, offset
        else:
            out.extend(replay)
            st.epoch = epoch
            st.offset = max(st.offset, offset, replay[-1].offset if replay else 0)
        self._release(st)
        return out

    async def _recheck(self, st: ChannelState) -> list[LiveEvent | Out]:
        allowed = await self.hub.authorizers.authorize(self.actor, st.channel)
        if self.subs.get(st.channel) is not st:
            return []
        if allowed:
            self._release(st)
            return []
        await self.hub.drop(self, st.channel)
        return [
            Out(
                "unsubscribed",
                encode_frame(Unsubscribed(channel=st.channel, reason="forbidden")),
            )
        ]


def info(conn: Connection) -> dict[str, Any]:
    return {"id": conn.id, "user": str(conn.actor.user_id), "subs": sorted(conn.subs)}
