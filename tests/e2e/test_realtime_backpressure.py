"""A client that never reads: cut at the queue bound with 4008, server memory stays flat."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

import pytest

from realtime.bus import EventBus
from tests.e2e.realtime_support import (
    ORIGIN,
    connect,
    recv_events,
    register,
    subscribe,
    ticket,
)

pytestmark = pytest.mark.e2e


async def test_non_reading_client_is_cut_with_4008_and_rss_stays_flat(apis, redis):
    api = await apis.start(ws_queue_max_frames=64, ws_send_timeout_seconds=30)
    user = await register(api.base)
    bus = EventBus(redis)
    bystander = await connect(api, user)
    await subscribe(bystander, user.channel)
    # A raw socket with a small receive buffer that subscribes and then reads nothing.
    t = await ticket(api.base, user)
    stuck = await _raw_client(api.port, t, user.channel)
    await asyncio.sleep(0.3)
    payload = {"blob": "x" * 8000}
    for _ in range(50):  # warm up allocator pools before the baseline
        await bus.publish(user.channel, "test.big", payload)
    await recv_events(bystander, 50)
    received: list[str] = []

    async def drain() -> None:
        while True:
            for event in await recv_events(bystander, 1, timeout=60):
                received.append(event["type"])

    reader = asyncio.create_task(drain())
    before = api.rss_kib()
    for _ in range(3000):  # 24 MB through a client that reads nothing
        await bus.publish(user.channel, "test.big", payload)
    await asyncio.sleep(1.0)
    after = api.rss_kib()
    assert after - before < 16 * 1024, (before, after)  # not the 24 MB that went by
    # Reading now: what was buffered, then the close frame.
    code, reason = await asyncio.wait_for(_read_until_close(stuck), 30)
    assert (code, reason) == (4008, "slow consumer")
    # Everyone else was served throughout, in full.
    await bus.publish(user.channel, "test.after", {})
    for _ in range(200):
        if received and received[-1] == "test.after":
            break
        await asyncio.sleep(0.1)
    reader.cancel()
    assert received.count("test.big") == 3000 and received[-1] == "test.after"
    await bystander.close()


async def _raw_client(port: int, ticket_: str, channel: str):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws?ticket={ticket_} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {ORIGIN}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = json.dumps({"type": "subscribe", "channel": channel}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    await writer.drain()
    return reader, writer


async def _read_until_close(client) -> tuple[int, str]:
    reader, _ = client
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        data = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return struct.unpack("!H", data[:2])[0], data[2:].decode()
