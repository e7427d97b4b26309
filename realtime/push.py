"""The push side of a WebSocket connection: eager sends, a writer task only for a backlog.

Why: with one writer coroutine per connection, every event woke ~N tasks (an `Event.set`,
a future, a task step each) before a single byte was written, and each idle socket kept a
writer task and its frames alive. Now the subscriber's callback writes the already
serialised frame straight into the socket when nothing is queued for it: the ASGI `send`
coroutine is stepped once by hand; it finishes without suspending unless the transport
is paused (the client reads too slowly). Only then, or when an item needs Redis (a sync,
resync or authorization recheck), a writer task is started; it finishes that send, drains
the queue in order and ends. Frames leave in exactly the order they were pushed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol

from realtime.frames import NO_QUEUE
from realtime.protocol import CLOSE_INTERNAL
from realtime.subscriber import LiveEvent

if TYPE_CHECKING:
    from realtime.connection import Connection
    from realtime.frames import Out

log = logging.getLogger("realtime.push")

CLIENT_GONE = 0  # pseudo close code: the client already left, send nothing

SendText = Callable[[str], Coroutine[Any, Any, None]]

# The ASGI scope extension under which the WebSocket server (`realtime.ws_protocol`) offers
# itself as a `FrameSink`.
FRAME_SINK = "second_brain.frame_sink"


class FrameSink(Protocol):
    """The socket's server protocol, taking a WebSocket frame built once for every socket."""

    def write_text_frame(self, frame: bytes) -> bool:
        """Write `frame` now; False (nothing written) when only the ASGI `send` may send."""
        ...


class ClientGone(Exception):
    """The client left (its socket is closed); raised by the transport's `SendText`."""


class _Resume:
    """Awaiting it finishes `coro`, which already suspended once yielding `pending`."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, None], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, None]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation included: passed on to `coro`
                try:
                    pending = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = coro.send(value)
                except StopIteration:
                    return


class PushWriter:
    """Sends a connection's frames; `Connection.push` calls `offer` / `kick`."""

    __slots__ = ("_conn", "_send", "_sink", "sending", "task")

    def __init__(self, conn: Connection, send: SendText, sink: FrameSink | None = None) -> None:
        self._conn = conn
        self._send = send
        self._sink = sink  # shared events go straight to the socket (built once per event)
        self.task: asyncio.Task[None] | None = None
        self.sending = False  # a send is under way (blocked on a client that does not read)

    @property
    def idle(self) -> bool:
        return self.task is None

    def send_now(self, item: LiveEvent | Out) -> None:
        """Write one frame at once; only called while idle with nothing queued."""
        sink = self._sink
        if sink is not None and isinstance(item, LiveEvent) and sink.write_text_frame(item.wire):
            return
        coro = self._send(_text(item))
        try:
            pending = coro.send(None)
        except StopIteration:
            return
        except ClientGone:
            self._conn.close(CLIENT_GONE)
            return
        except Exception:
            log.exception("websocket send failed")
            self._conn.close(CLOSE_INTERNAL, "internal error")
            return
        # Backpressure: the transport is paused. A writer task finishes this send.
        self.sending = True
        self.task = asyncio.create_task(self._drain(_Resume(coro, pending)))

    def kick(self) -> None:
        """Something was queued: make sure a writer task drains it."""
        if self.task is None:
            self.task = asyncio.create_task(self._drain(None))

    def cancel_send(self) -> None:
        """The connection is closing: give up a send blocked on a client that does not read."""
        if self.sending and self.task is not None:
            self.task.cancel()

    async def _drain(self, first: _Resume | None) -> None:
        conn = self._conn
        try:
            if first is not None:
                try:
                    await first
                finally:
                    self.sending = False
            queue = conn.queue
            while queue and conn.close_code is None:
                for out in await conn.expand(queue.popleft()):
                    if conn.close_code is not None:
                        break
                    self.sending = True
                    try:
                        await self._send(_text(out))
                    finally:
                        self.sending = False
        except ClientGone:
            conn.close(CLIENT_GONE)
        except asyncio.CancelledError:
            if conn.close_code is None:
                raise
        except Exception:
            log.exception("websocket writer failed")
            conn.close(CLOSE_INTERNAL, "internal error")
        finally:
            self.task = None
            if not conn.queue:
                conn.queue = NO_QUEUE  # drained: an idle socket keeps no deque


def _text(item: LiveEvent | Out) -> str:
    return item.frame if isinstance(item, LiveEvent) else item.text
