"""The app's bus refuses an event the catalog does not document, before the write commits."""

from __future__ import annotations

import pytest
from bson import ObjectId

from realtime.bus import UndocumentedEvent
from server.core.db import Tx, run_in_transaction
from tests.helpers import services

pytestmark = pytest.mark.integration


async def test_an_undocumented_event_aborts_its_write_and_publishes_nothing(client):
    svc = services(client)
    probe = svc.mongo[client.app.state["settings"].mongodb_db]["strict_probe"]
    channel = f"user:{ObjectId()}"
    _, since = await svc.bus.position(channel)

    async def work(tx: Tx) -> None:
        await probe.insert_one({"n": 1}, session=tx.session)
        tx.publish(channel, "probe.undocumented", {"n": 1})

    with pytest.raises(UndocumentedEvent):
        await run_in_transaction(svc.mongo, work, publisher=svc.bus)
    assert await probe.count_documents({}) == 0
    assert await svc.bus.read_since(channel, since) == []
    with pytest.raises(UndocumentedEvent):  # direct publishes are checked too
        await svc.bus.publish(channel, "probe.undocumented", {})
