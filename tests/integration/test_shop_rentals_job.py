"""The rental sweep runs as a SAQ job through the real queue and publishes the expiry."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from bson import ObjectId
from litestar_saq import SAQPlugin

from server.app import _saq_config
from server.core.clock import utcnow
from server.shop.documents import Ownership
from tests.helpers import services
from tests.integration.shop_support import create_item, inventory
from tests.integration.wallet_support import admin, key, mint, verified_user

pytestmark = pytest.mark.integration


async def _wait_for_worker(queue) -> None:
    async with asyncio.timeout(15):
        while not (await queue.info()).get("workers"):
            await asyncio.sleep(0.05)


async def test_rental_sweep_through_the_queue(client):
    boss = await admin(client)
    renter = await verified_user(client)
    await mint(client, boss, renter["user"]["username"], 50)
    item = await create_item(client, boss, price=40, rentalPrice=5, rentalSeconds=3600)
    keep = await create_item(client, boss, price=40, rentalPrice=5, rentalSeconds=3600)
    for target in (item, keep):
        response = await client.post(
            "/api/v1/shop/purchases",
            json={"itemId": target["id"], "rent": True},
            headers={**renter["headers"], **key()},
        )
        assert response.status_code == 201, response.text
    past = utcnow() - timedelta(seconds=5)
    await Ownership.get_pymongo_collection().update_one(
        {"item_id": ObjectId(item["id"])}, {"$set": {"valid_until": past}}
    )
    bus = services(client).bus
    channel = f"user:{renter['user']['id']}"
    _, offset_before = await bus.position(channel)

    settings = client.app.state["settings"]
    plugin = SAQPlugin(_saq_config(settings))
    worker = plugin.get_workers()["default"]
    worker.SIGNALS = []
    runner = asyncio.create_task(worker.start())
    queue = plugin.get_queue("default")
    try:
        await _wait_for_worker(queue)
        expired = await queue.apply("expire_shop_rentals", timeout=30)
        again = await queue.apply("expire_shop_rentals", timeout=30)
        # Checked while the worker runs: its startup re-binds Beanie's documents to its own
        # database client, which it closes on shutdown.
        left = [e["item"]["id"] for e in await inventory(client, renter)]
        stored = await Ownership.get_pymongo_collection().count_documents({})
    finally:
        await worker.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await queue.disconnect()

    assert (expired, again) == (1, 0)
    assert left == [keep["id"]]
    assert stored == 1
    events = [json.loads(raw) for raw in await bus.read_since(channel, offset_before)]
    rental_events = [e for e in events if e["type"] == "shop.rental_expired"]
    assert [e["data"]["itemId"] for e in rental_events] == [item["id"]]


def test_rental_sweep_is_a_cron_job(settings):
    (queue_config,) = _saq_config(settings).queue_configs
    crons = {job.function.__name__: job.cron for job in queue_config.scheduled_tasks}
    assert crons["expire_shop_rentals"] == settings.shop_rental_sweep_cron
