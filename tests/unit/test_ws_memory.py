"""Less memory per idle WebSocket (issue 18, third round): the lean uvicorn protocol's inbox
and flag, the connection's shared empty queue, the metrics middleware's pass-through, and
the gateway reading its handshake inputs from the raw scope. Figures come from
`scripts/bench_fanout.py` and `scripts/ws_memory_probe.py`, not from these tests."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from bson import ObjectId

from realtime.config import RealtimeConfig
from realtime.connection import Connection
from realtime.frames import NO_QUEUE, Out, Sync
from realtime.gateway import _ticket
from realtime.ws_protocol import Flag, Inbox
from server.core.request_context import raw_header
from server.metrics import RequestMetricsMiddleware

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------ Inbox / Flag


async def test_inbox_gives_items_in_order_and_wakes_a_waiting_reader():
    inbox = Inbox()
    assert inbox.empty() and inbox.qsize() == 0
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert inbox.qsize() == 2
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait(3)
    assert await reader == 3
    assert inbox.empty()


async def test_inbox_serves_two_waiting_readers_one_item_each():
    inbox = Inbox()
    readers = [asyncio.create_task(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert sorted(await asyncio.gather(*readers)) == ["a", "b"]


async def test_inbox_passes_a_wake_up_on_when_the_woken_reader_is_cancelled():
    """As `asyncio.Queue`: an item must not be stranded because the reader woken for it was
    cancelled before it ran."""
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("x")  # wakes `first`
    first.cancel()
    assert await asyncio.wait_for(second, 1) == "x"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_inbox_reader_cancelled_while_waiting_leaves_no_waiter():
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    inbox.put_nowait(1)
    assert await inbox.get() == 1


async def test_flag_starts_set_and_wait_blocks_only_while_cleared():
    flag = Flag()
    assert flag.is_set()
    assert await flag.wait() is True  # no suspension: the push path steps sends by hand
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True]
    flag.set()  # idempotent
    assert flag.is_set()


def test_flag_wait_completes_without_suspending_when_set():
    """`PushWriter.send_now` steps the ASGI send by hand and expects it to finish at once
    while the transport is writable."""
    coro = Flag().wait()
    with pytest.raises(StopIteration):
        coro.send(None)


# ------------------------------------------------------------------ Connection queue


def _connection() -> Connection:
    hub: Any = SimpleNamespace(config=RealtimeConfig(redis_url="redis://x"))
    actor: Any = SimpleNamespace(user_id=ObjectId())
    return Connection(hub, actor, expires_at=0.0, transport="ws")


async def test_connection_shares_the_empty_queue_until_something_waits():
    conn = _connection()
    other = _connection()
    assert conn.queue is NO_QUEUE and other.queue is NO_QUEUE
    conn.push(Out("pong", "{}"))  # no writer (SSE-like): queued
    assert conn.queue is not NO_QUEUE
    assert [o.kind for o in conn.queue] == ["pong"]  # type: ignore[union-attr]
    assert len(NO_QUEUE) == 0 and other.queue is NO_QUEUE


async def test_writer_puts_the_shared_queue_back_once_drained():
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    conn = _connection()
    conn.use_push(send)
    st = SimpleNamespace(hold=True, pending=[], channel="c")
    conn.push(Sync(st, None, None))  # type: ignore[arg-type]  # needs the writer task
    assert conn.queue is not NO_QUEUE
    conn.queue.clear()  # as if expanded; the writer finds it empty
    conn.push(Out("pong", "{}"))
    assert conn.writer is not None and conn.writer.task is not None
    await conn.writer.task
    assert sent == ["{}"]
    assert conn.queue is NO_QUEUE


# ------------------------------------------------------------------ middleware, gateway


async def test_metrics_middleware_hands_a_websocket_the_inner_coroutine():
    """No frame of the middleware stays suspended for a WebSocket's life."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        return None

    middleware = RequestMetricsMiddleware(inner)
    coro = inner({}, None, None)
    middleware.app = lambda *args: coro  # type: ignore[assignment,method-assign]
    scope: Any = {"type": "websocket", "path": "/ws"}
    assert middleware(scope, None, None) is coro  # type: ignore[arg-type]
    await coro


def _socket(headers: list[tuple[bytes, bytes]], query: bytes) -> Any:
    return SimpleNamespace(scope={"headers": headers, "query_string": query})


def test_gateway_reads_origin_and_ticket_from_the_raw_scope():
    socket = _socket([(b"host", b"h"), (b"origin", b"http://a.example")], b"x=1&ticket=t%2Bk")
    assert raw_header(socket.scope, b"origin") == "http://a.example"
    assert raw_header(socket.scope, b"user-agent") is None
    assert _ticket(socket) == "t+k"
    assert _ticket(_socket([], b"")) is None
    assert _ticket(_socket([], b"ticket=")) == ""  # refused by the ticket store
