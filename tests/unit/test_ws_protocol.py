"""`realtime.ws_protocol.LeanWebSocketProtocol` under a real uvicorn server (in this process,
on loopback): messages both ways, closes both ways, backpressure, and the handshake's
request/response released after the accept. It leans on uvicorn's internals, so a uvicorn
upgrade that changes them has to fail here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from uvicorn.importer import import_from_string
from websockets.exceptions import ConnectionClosed

from realtime.ws_protocol import Flag, Inbox, LeanWebSocketProtocol
from scripts.services_base import free_port
from server.serve import WS_PROTOCOL, uvicorn_options
from server.settings import Settings

pytestmark = pytest.mark.unit


class EchoApp:
    """Accepts, echoes text upper-cased; `flood` sends `n` big frames; `close` closes 4001."""

    def __init__(self) -> None:
        self.disconnect_codes: list[int] = []
        self.scope_headers: list[Any] = []
        self.flood_done = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        self.scope_headers = list(scope["headers"])
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnect_codes.append(message["code"])
                return
            text = message["text"]
            if text.startswith("flood"):
                for i in range(int(text.split()[1])):
                    await send({"type": "websocket.send", "bytes": bytes([i % 256]) * 65536})
                self.flood_done.set()
            elif text == "close":
                await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
                return
            else:
                await send({"type": "websocket.send", "text": text.upper()})


@contextlib.asynccontextmanager
async def serve(app: EchoApp) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=WS_PROTOCOL, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield server, f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        await task


def _protocols(server: uvicorn.Server) -> list[LeanWebSocketProtocol]:
    return [p for p in server.server_state.connections if isinstance(p, LeanWebSocketProtocol)]


def test_server_serve_runs_websockets_on_the_lean_protocol():
    options = uvicorn_options(Settings(), "127.0.0.1", 8000)
    assert options["ws"] == WS_PROTOCOL
    assert import_from_string(WS_PROTOCOL) is LeanWebSocketProtocol


async def test_messages_both_ways_and_handshake_state_released():
    app = EchoApp()
    async with serve(app) as (server, url):
        async with websockets.connect(url, additional_headers={"X-Probe": "1"}) as ws:
            for i in range(20):
                await ws.send(f"hello {i}")
            assert [await ws.recv() for _ in range(20)] == [f"HELLO {i}" for i in range(20)]
            (protocol,) = _protocols(server)
            assert isinstance(protocol.queue, Inbox) and isinstance(protocol.writable, Flag)
            assert "request" not in protocol.__dict__ and "response" not in protocol.__dict__
            # The app saw the request's headers (the scope keeps its own copy).
            assert (b"x-probe", b"1") in app.scope_headers
        for _ in range(200):
            if app.disconnect_codes:
                break
            await asyncio.sleep(0.01)
        assert app.disconnect_codes == [1000]


async def test_server_close_reaches_the_client():
    app = EchoApp()
    async with serve(app) as (_server, url), websockets.connect(url) as ws:
        await ws.send("close")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")


async def _raw_client(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A handshaken client with a small receive buffer, reading only when told to."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


async def test_a_client_that_stops_reading_pauses_the_app_and_then_gets_everything():
    """The `writable` flag: sends wait while the transport is paused, resume after."""
    app = EchoApp()
    frames = 400  # 25.6 MiB: more than the socket buffers hold
    async with serve(app) as (server, url):
        reader, writer = await _raw_client(url)
        try:
            writer.write(_masked_text(f"flood {frames}"))
            (protocol,) = _protocols(server)
            for _ in range(1000):  # until the transport pauses
                if not protocol.writable.is_set():
                    break
                await asyncio.sleep(0.01)
            assert not protocol.writable.is_set()
            assert not app.flood_done.is_set()
            firsts = []
            for _ in range(frames):  # binary, unmasked, 64-bit length
                header = await reader.readexactly(10)
                assert header[:2] == b"\x82\x7f"
                body = await reader.readexactly(struct.unpack("!Q", header[2:])[0])
                firsts.append(body[0])
            assert firsts == [i % 256 for i in range(frames)]
            await asyncio.wait_for(app.flood_done.wait(), 10)
            assert protocol.writable.is_set()
        finally:
            writer.close()
