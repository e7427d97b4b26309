"""Real services for the tests: SecantusDB (a separate process) and a real Redis.

- MongoDB: a throwaway SecantusDB on a free port, data in a temp dir, for the session.
- Redis: `REDIS_URL` when set (that database is flushed before every test), else a
  `redis-server` on a free port for the session.
- Every test that builds an app gets a fresh database (a new name), and Redis is flushed.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from redis.asyncio import Redis

from scripts.devservices import spawn_mongo, spawn_redis
from server.app import create_app
from server.settings import Settings


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = spawn_mongo(tmp_path_factory.mktemp("secantus"), die_with_parent=True)
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    service = spawn_redis(tmp_path_factory.mktemp("redis"), die_with_parent=True)
    try:
        yield service.url
    finally:
        service.stop()


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


SettingsFactory = Callable[..., Settings]


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own.

    The lifespan holds an anyio cancel scope that must be left by the task that entered it,
    while pytest-asyncio sets up and tears down a fixture in different tasks.
    """
    started = asyncio.Event()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    async def _lifespan() -> None:
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()

    task = asyncio.create_task(_lifespan())
    await started.wait()
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        stop.set()
        await task
        if failure:
            raise failure[0]


@pytest.fixture
def settings_factory(mongo_url: str, redis_url: str) -> SettingsFactory:
    """Settings for one test: a fresh database, cheap password hashing, generous limits."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "mongodb_url": mongo_url,
            "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
            "redis_url": redis_url,
            "argon2_time_cost": 1,
            "argon2_memory_kib": 8192,
            "argon2_parallelism": 1,
            "rate_limit_auth_per_ip_per_minute": 10_000,
            "rate_limit_register_per_ip_per_hour": 10_000,
            "log_level": "WARNING",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory()


class ApiClient(httpx.AsyncClient):
    """An httpx client wired to the app in-process, on the test's own event loop.

    (Litestar's AsyncTestClient runs the app on a portal thread's loop, where the database
    client of the test loop cannot be used.) `client.app` is the running Litestar app.
    """

    app: Litestar


AppClientFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def app_factory(
    settings_factory: SettingsFactory, redis: Redis
) -> AsyncIterator[AppClientFactory]:
    """`async with app_factory(**settings_overrides) as client:` a running app and its client."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[ApiClient]:
        app = create_app(settings_factory(**overrides))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        base_url = "http://testserver.local"
        async with running(app), ApiClient(transport=transport, base_url=base_url) as client:
            client.app = app
            yield client

    yield make


@pytest_asyncio.fixture
async def client(app_factory: AppClientFactory) -> AsyncIterator[ApiClient]:
    async with app_factory() as test_client:
        yield test_client
