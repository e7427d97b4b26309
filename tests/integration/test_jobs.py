"""Background jobs run through the real SAQ queue on Redis, by the worker the app configures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from bson import ObjectId
from litestar_saq import SAQPlugin
from pymongo import AsyncMongoClient

from auth.documents import AuthSession
from server.app import _saq_config
from server.compose.build import open_services
from server.core.clock import utcnow

pytestmark = pytest.mark.integration


def _session(user_id: ObjectId, **fields) -> AuthSession:
    now = utcnow()
    values = {
        "user_id": user_id,
        "refresh_hash": ObjectId().binary.hex(),
        "expires_at": now + timedelta(days=1),
    }
    values.update(fields)
    return AuthSession(**values)


async def _wait_for_worker(queue) -> None:
    """A job enqueued before the worker has started up is swept as stuck, so wait for it."""
    async with asyncio.timeout(15):
        while not (await queue.info()).get("workers"):
            await asyncio.sleep(0.05)


async def test_session_cleanup_runs_through_the_queue(settings, redis):
    services = await open_services(settings)
    user_id = ObjectId()
    now = utcnow()
    live = await _session(user_id).insert()
    await _session(user_id, expires_at=now - timedelta(minutes=1)).insert()
    await _session(user_id, revoked_at=now - timedelta(days=45)).insert()
    recently_revoked = await _session(user_id, revoked_at=now - timedelta(days=1)).insert()
    await services.close()

    plugin = SAQPlugin(_saq_config(settings))
    worker = plugin.get_workers()["default"]
    worker.SIGNALS = []
    runner = asyncio.create_task(worker.start())
    try:
        queue = plugin.get_queue("default")
        await _wait_for_worker(queue)
        deleted = await queue.apply("cleanup_expired_sessions", timeout=30)
    finally:
        await worker.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await queue.disconnect()

    assert deleted == 2
    mongo = AsyncMongoClient(settings.mongodb_url)
    remaining = {
        doc["_id"] async for doc in mongo[settings.mongodb_db]["auth_sessions"].find({}, {"_id": 1})
    }
    await mongo.close()
    assert remaining == {live.id, recently_revoked.id}


def test_cleanup_is_scheduled_as_a_cron_job(settings):
    config = _saq_config(settings)
    (queue_config,) = config.queue_configs
    crons = {job.function.__name__: job.cron for job in queue_config.scheduled_tasks}
    assert crons["cleanup_expired_sessions"] == settings.session_cleanup_cron
