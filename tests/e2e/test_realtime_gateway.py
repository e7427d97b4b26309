"""The WebSocket gateway in real server processes: tickets, origins, frames, limits, auth."""

from __future__ import annotations

import pytest
import pytest_asyncio

from realtime.bus import EventBus
from tests.e2e.realtime_support import (
    ApiFactory,
    connect,
    recv_events,
    register,
    subscribe,
)

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def apis(mongo_url, redis_url, redis, tmp_path):
    factory = ApiFactory(mongo_url, redis_url, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


async def test_ticket_connect_subscribe_and_receive(apis, redis):
    api = await apis.start()
    user = await register(api.base)
    ws = await connect(api, user)
    reply = await subscribe(ws, user.channel)
    assert reply["recovered"] is False and reply["offset"] == 0
    bus = EventBus(redis)
    await bus.publish(user.channel, "test.hello", {"n": 1})
    [event] = await recv_events(ws, 1)
    assert event["type"] == "test.hello" and event["data"] == {"n": 1}
    assert event["offset"] == 1 and event["channel"] == user.channel
    await ws.close()
