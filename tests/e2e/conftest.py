"""Real api processes for the e2e tests, started the way the benchmarks start them.

Fixtures:
- `apis`: a factory for this test; `await apis.start(**settings)` starts one more process
  (all of them share one fresh database) and every one is stopped when the test ends.
- `shared_api`: one process for the whole module (tests that need no special settings).
- `module_apis`: a factory for a module-scoped fixture of your own (custom settings, a
  chosen port, another app); synchronous code uses `start_sync`.

Processes are `scripts.api_process.ApiProcess` (the class every benchmark uses) started by
`tests.e2e.api_factory.ApiFactory`, which documents the settings they get.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from scripts.api_process import ApiProcess
from tests.e2e.api_factory import ApiFactory


@pytest_asyncio.fixture
async def apis(
    mongo_url: str, redis_url: str, redis: Redis, tmp_path: Path
) -> AsyncIterator[ApiFactory]:
    """Api processes for this test (Redis flushed first); all stopped at its end."""
    factory = ApiFactory(mongo_url, redis_url, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def module_apis(
    mongo_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiFactory]:
    """Api processes for this module; all stopped after its last test."""
    factory = ApiFactory(mongo_url, redis_url, tmp_path_factory.mktemp("api"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest_asyncio.fixture(scope="module")
async def shared_api(module_apis: ApiFactory) -> ApiProcess:
    """One api process with the default e2e settings, shared by the module's tests."""
    return await module_apis.start()
