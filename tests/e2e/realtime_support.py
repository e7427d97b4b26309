"""Users and WebSocket clients for the real-time e2e tests against real api processes.

The processes come from the `apis` / `shared_api` fixtures in `tests/e2e/conftest.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from scripts.api_process import ApiProcess
from tests import helpers

ORIGIN = "http://localhost:3000"


class User:
    def __init__(self, base: str, body: dict[str, Any]) -> None:
        self.base = base
        self.id: str = body["user"]["id"]
        self.username: str = body["user"]["username"]
        self.access: str = body["accessToken"]
        self.refresh: str = body["refreshToken"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    @property
    def channel(self) -> str:
        return f"user:{self.id}"


async def register(base: str) -> User:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return User(base, await helpers.register(client))


async def login(base: str, user: User) -> User:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return User(base, await helpers.login(client, user.username))


async def ticket(base: str, user: User) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post("/api/v1/realtime/ticket", headers=user.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["ticket"])


async def connect(api: ApiProcess, user: User, **kwargs: Any) -> ClientConnection:
    """Open a socket and consume the `ready` frame."""
    t = await ticket(api.base, user)
    ws = await websockets.connect(f"{api.ws}?ticket={t}", origin=ORIGIN, **kwargs)  # type: ignore[arg-type]
    ready = await recv(ws)
    assert ready["type"] == "ready", ready
    return ws


async def recv(
    ws: ClientConnection, timeout: float = 5.0, *, presence: bool = False
) -> dict[str, Any]:
    """The next frame; `presence` frames are skipped unless asked for."""
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        frame: dict[str, Any] = json.loads(raw)
        if presence or frame.get("type") != "presence":
            return frame


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def subscribe(
    ws: ClientConnection, channel: str, since: dict[str, Any] | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "subscribe", "channel": channel}
    if since is not None:
        frame["since"] = since
    await send(ws, frame)
    reply = await recv(ws)
    assert reply["type"] == "subscribed" and reply["channel"] == channel, reply
    return reply


async def recv_events(ws: ClientConnection, count: int, timeout: float = 10.0) -> list[dict]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        frame = await recv(ws, max(0.05, deadline - time.monotonic()))
        if frame["type"] == "event":
            events.append(frame["event"])
    return events


async def expect_close(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, str]:
    """Read until the server closes; the close code and reason."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.05, deadline - time.monotonic()))
    except websockets.ConnectionClosed as closed:
        rcvd = closed.rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (1006, "")
