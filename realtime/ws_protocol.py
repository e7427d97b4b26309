"""uvicorn's sans-I/O WebSocket protocol, lighter per idle socket (`ws=` in `server.serve`).

Thousands of sockets sit idle in the gateway; per socket, uvicorn's
`WebSocketsSansIOProtocol` (uvicorn 0.54) keeps objects that only matter at the handshake or
that are far bigger than an idle socket needs (`scripts/ws_memory_probe.py` measures them):

- the parsed upgrade request and the handshake response (`websockets` `Request`/`Response`
  with their `Headers`): used only until the `websocket.accept` is sent. Dropped then; the
  request's headers are emptied too, since `websockets`' parser keeps the request alive.
- the inbound message queue, an `asyncio.Queue`: three `deque`s and an `asyncio.Event` (four
  more `deque`s' worth of memory, ~0.7 KiB each, for what is almost always zero or one
  message: uvicorn pauses reading while a message waits). Replaced by `Inbox`, a list and a
  list of waiters created only when a reader waits.
- the `writable` flag, an `asyncio.Event` (one more `deque`). Replaced by `Flag`.

Nothing changes on the wire or in the ASGI messages. The class is tied to uvicorn's
internals (the attribute names above); `tests/unit/test_ws_protocol.py` runs it under a real
uvicorn server, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from realtime.push import FRAME_SINK


class _Waiters:
    """Futures of the coroutines waiting on an `Inbox` or a `Flag`: no list at all until one
    waits (most sockets never do)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            # Woken, then cancelled: pass the wake-up on (as asyncio.Queue does).
            if waiter.done() and not waiter.cancelled():
                self._wake(skip=waiter)
            raise
        finally:
            self._waiters.remove(waiter)
            if not self._waiters:
                self._waiters = None

    def _wake(self, *, every: bool = False, skip: asyncio.Future[None] | None = None) -> None:
        for waiter in self._waiters or ():
            if waiter is not skip and not waiter.done():
                waiter.set_result(None)
                if not every:
                    return


class Inbox(_Waiters):
    """The part of `asyncio.Queue` uvicorn uses (`put_nowait`, `get`, `empty`, `qsize`),
    unbounded, with no `deque` or `Event` until a reader has to wait."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        while not self._items:
            await self._wait()
        return self._items.pop(0)


class Flag(_Waiters):
    """The part of `asyncio.Event` uvicorn uses for `writable` (`set`, `clear`, `is_set`,
    `wait`), with no `deque` until a writer has to wait. Starts set."""

    __slots__ = ("_is_set",)

    def __init__(self) -> None:
        super().__init__()
        self._is_set = True

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        if self._is_set:
            return
        self._is_set = True
        self._wake(every=True)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> bool:
        if not self._is_set:
            await self._wait()
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """`WebSocketsSansIOProtocol` with the lighter inbox and flag, and the handshake's
    request and response released once the socket is accepted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # none when the handshake was refused
        if scope is not None:
            scope["extensions"][FRAME_SINK] = self

    def write_text_frame(self, frame: bytes) -> bool:
        """`realtime.push.FrameSink`: write a text frame built once for every socket (an
        event fanned out to thousands), skipping the ASGI `send` and the per-socket frame
        encoding. Only where the ASGI path would write the same bytes at once: open, the
        accept sent, no extension negotiated (permessage-deflate), the transport writable;
        else False and the caller takes the ASGI path (which waits or raises)."""
        if (
            self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.conn.extensions
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def start_keepalive(self) -> None:
        # Called once, right after the accepted handshake's response was written: the
        # only later reads of `request`/`response` are before that (uvicorn 0.54).
        request = self.__dict__.pop("request", None)
        if request is not None:
            # websockets' parser generator keeps the request in its suspended frame for
            # the socket's whole life: empty its headers (the scope has its own copy).
            request.headers.clear()
        self.__dict__.pop("response", None)
        super().start_keepalive()
