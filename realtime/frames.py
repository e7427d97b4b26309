"""What a connection queues: ready control frames, per-channel state, and held work items.

Split from `realtime/connection.py` so the connection keeps only its ordering rules; the
writer (`realtime/push.py`) and SSE read these types too.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from realtime.protocol import Since, Subscribed, encode_frame
from realtime.subscriber import LiveEvent


class Out:
    """A control frame ready to send; `epoch`/`offset` are set on `subscribed` frames."""

    __slots__ = ("channel", "epoch", "kind", "offset", "text")

    def __init__(
        self,
        kind: str,
        text: str,
        channel: str | None = None,
        epoch: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.kind = kind
        self.text = text
        self.channel = channel
        self.epoch = epoch
        self.offset = offset


KEEPALIVE = Out("keepalive", "")


class ChannelState:
    """One subscription: the last (epoch, offset) queued, and live events held meanwhile."""

    __slots__ = ("channel", "dirty", "epoch", "hold", "offset", "pending", "presence", "recheck_on")

    def __init__(
        self, channel: str, *, presence: bool, recheck_on: frozenset[str] = frozenset()
    ) -> None:
        self.channel = channel
        # The event types after which the subscriber is re-authorized: looked up once per
        # subscription, not once per delivered event.
        self.recheck_on = recheck_on
        self.epoch: str | None = None
        self.offset = 0
        self.hold = True
        self.pending: list[LiveEvent] = []
        self.presence = presence
        self.dirty = False


class Sync:
    """Queued: the initial sync of a subscription (position or catch-up from `since`)."""

    __slots__ = ("ref", "since", "st")

    def __init__(self, st: ChannelState, since: Since | None, ref: str | None) -> None:
        self.st = st
        self.since = since
        self.ref = ref


class Resync:
    """Queued: replay a gap (or a Redis reconnect) from the stream."""

    __slots__ = ("st",)

    def __init__(self, st: ChannelState) -> None:
        self.st = st


class Recheck:
    """Queued: re-authorize the channel after an event that may change access."""

    __slots__ = ("st",)

    def __init__(self, st: ChannelState) -> None:
        self.st = st


Item = LiveEvent | Out | Sync | Resync | Recheck

# A connection's queue while nothing waits in it: shared, always empty (maxlen 0, and never
# appended to: `Connection.push` gives the connection its own deque first). An empty deque
# costs ~0.7 KiB, per socket; thousands of sockets sit idle.
NO_QUEUE: deque[Any] = deque(maxlen=0)


def subscribed_out(
    channel: str, epoch: str | None, offset: int, recovered: bool, ref: str | None = None
) -> Out:
    frame = Subscribed(channel=channel, epoch=epoch, offset=offset, recovered=recovered, ref=ref)
    return Out("subscribed", encode_frame(frame), channel, epoch, offset)
