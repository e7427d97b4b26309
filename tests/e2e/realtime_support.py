"""Real api processes and WebSocket clients for the real-time e2e tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from scripts.devservices import free_port
from tests.helpers import PASSWORD, unique_name

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ORIGIN = "http://localhost:3000"


class ApiProcess:
    """`uvicorn --factory tests.e2e.realtime_app:create_app` on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "--factory",
                "tests.e2e.realtime_app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"api exited early:\n{self.log_text()[-3000:]}")
                try:
                    r = await client.get(f"{self.base}/health/ready", timeout=2)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"api not ready:\n{self.log_text()[-3000:]}")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def api_env(mongo_url: str, redis_url: str, **extra: Any) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ENVIRONMENT": "test",
            "MONGODB_URL": mongo_url,
            "MONGODB_DB": f"test_{uuid.uuid4().hex[:12]}",
            "REDIS_URL": redis_url,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "8192",
            "ARGON2_PARALLELISM": "1",
            "RATE_LIMIT_AUTH_PER_IP_PER_MINUTE": "10000",
            "RATE_LIMIT_AUTH_PER_ACCOUNT_PER_MINUTE": "10000",
            "RATE_LIMIT_REGISTER_PER_IP_PER_HOUR": "10000",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",  # the log tests read the output as it is written
            "WS_ALLOWED_ORIGINS": ORIGIN,
        }
    )
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


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
    name = unique_name()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
        return User(base, r.json())


async def login(base: str, user: User) -> User:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/login", json={"login": user.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return User(base, r.json())


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


class ApiFactory:
    """Start api processes sharing one fresh database; all stopped at the end of the test."""

    def __init__(self, mongo_url: str, redis_url: str, log_dir: Path) -> None:
        self.mongo_url = mongo_url
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.db = f"test_{uuid.uuid4().hex[:12]}"
        self.started: list[ApiProcess] = []

    async def start(self, *, redis_url: str | None = None, **settings: Any) -> ApiProcess:
        env = api_env(self.mongo_url, redis_url or self.redis_url, **settings)
        env["MONGODB_DB"] = self.db
        api = ApiProcess(env, self.log_dir / f"api-{len(self.started)}.log")
        self.started.append(api)
        await api.wait_ready()
        return api

    def stop_all(self) -> None:
        for api in self.started:
            api.stop()


@asynccontextmanager
async def api_factory(mongo_url: str, redis_url: str, log_dir: Path) -> AsyncIterator[ApiFactory]:
    """Start api processes with custom settings; all stopped on exit."""
    factory = ApiFactory(mongo_url, redis_url, log_dir)
    try:
        yield factory
    finally:
        factory.stop_all()


# In a test module:
#
#   @pytest_asyncio.fixture
#   async def apis(mongo_url, redis_url, redis, tmp_path):
#       async with api_factory(mongo_url, redis_url, tmp_path) as factory:
#           yield factory
#
#   @pytest_asyncio.fixture(scope="module")
#   async def shared_api(mongo_url, redis_url, tmp_path_factory):
#       async with api_factory(mongo_url, redis_url, tmp_path_factory.mktemp("api")) as f:
#           yield await f.start()
