"""The frame sink: an event fanned out to many sockets is encoded once and written as is.

`realtime.push.text_frame` must produce exactly the bytes websockets would write, the lean
uvicorn protocol offers itself in the scope and refuses (False) wherever only the ASGI
path may write (permessage-deflate negotiated, socket closing), and `PushWriter` falls back
to the ASGI `send` whenever the sink refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode

from realtime.protocol import text_frame
from realtime.push import FRAME_SINK, PushWriter
from realtime.subscriber import LiveEvent
from scripts.services_base import free_port
from server.serve import WS_PROTOCOL

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_is_what_websockets_writes(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected


class SinkApp:
    """Accepts; on "sink N" writes N prebuilt frames through the sink, then "done" through
    ASGI; records what the sink answered."""

    def __init__(self) -> None:
        self.answers: list[bool] = []
        self.had_sink: bool | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        sink = scope["extensions"].get(FRAME_SINK)
        self.had_sink = sink is not None
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            count = int(message["text"].split()[1])
            for i in range(count):
                self.answers.append(sink.write_text_frame(text_frame(f"prebuilt {i}".encode())))
            await send({"type": "websocket.send", "text": "done"})


@contextlib.asynccontextmanager
async def serve(app: SinkApp, *, deflate: bool) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=WS_PROTOCOL,
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        await task


async def test_prebuilt_frames_arrive_in_order_before_a_later_asgi_send() -> None:
    app = SinkApp()
    async with serve(app, deflate=False) as url, websockets.connect(url) as ws:
        await ws.send("sink 3")
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(4)]
    assert app.had_sink is True
    assert app.answers == [True, True, True]
    assert got == ["prebuilt 0", "prebuilt 1", "prebuilt 2", "done"]


async def test_with_permessage_deflate_the_sink_refuses_and_nothing_is_written() -> None:
    """A prebuilt uncompressed frame on a deflate socket would be a protocol violation."""
    app = SinkApp()
    async with (
        serve(app, deflate=True) as url,
        websockets.connect(url, compression="deflate") as ws,
    ):
        await ws.send("sink 2")
        got = await asyncio.wait_for(ws.recv(), 5)
    assert app.answers == [False, False]
    assert got == "done"


class FakeSink:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.frames: list[bytes] = []

    def write_text_frame(self, frame: bytes) -> bool:
        self.frames.append(frame)
        return self.accept


class FakeConnection:
    close_code: int | None = None

    def close(self, code: int, reason: str = "") -> None:
        self.close_code = code


def _event() -> LiveEvent:
    raw = '{"channel":"user:1","type":"x.y","data":{},"ts":1.0,"offset":3,"epoch":"e"}'
    return LiveEvent("user:1", raw, 3, "e", "x.y")


@pytest.mark.parametrize("accept", [True, False])
def test_push_writer_uses_the_sink_and_falls_back_to_send(accept: bool) -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    sink = FakeSink(accept)
    writer = PushWriter(FakeConnection(), send, sink)  # type: ignore[arg-type]
    event = _event()
    writer.send_now(event)
    assert sink.frames == [text_frame(event.frame.encode())]
    assert sent == ([] if accept else [event.frame])
    assert event.wire is event.wire  # built once, shared by every socket
