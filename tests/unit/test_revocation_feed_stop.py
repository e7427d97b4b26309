"""Shutting down the revocation feed never hangs an api's lifespan teardown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import auth.revocation_feed as feed_module
from auth.liveness import HotSessions
from auth.revocation_feed import RevocationFeed

pytestmark = pytest.mark.unit


async def test_stop_returns_even_when_the_listener_will_not_end(monkeypatch):
    """Bug: `stop()` cancelled the pub/sub listener and awaited it without a bound; a
    listener stuck closing its connection hung the app's teardown (test_realtime_contract
    stalled for 300 s between two tests). `stop()` now waits at most STOP_SECONDS."""
    release = asyncio.Event()

    async def stubborn(self: RevocationFeed) -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # like a close that keeps waiting on its socket

    monkeypatch.setattr(RevocationFeed, "_run", stubborn)
    monkeypatch.setattr(feed_module, "STOP_SECONDS", 0.05)
    redis: Any = object()  # never used by the stubborn listener
    feed = RevocationFeed(redis, HotSessions(2.0))
    feed.start()
    await asyncio.sleep(0)
    await asyncio.wait_for(feed.stop(), 5)  # would time out before the fix
    release.set()
    await asyncio.sleep(0.01)


async def test_stop_of_a_listener_that_ends_on_cancel_is_clean():
    """The normal case: the listener ends on cancel and stop() returns with it done."""

    class NoRedis:
        def pubsub(self) -> Any:
            raise OSError("no redis here")

    redis: Any = NoRedis()
    feed = RevocationFeed(redis, HotSessions(2.0))
    feed.start()
    task = feed._task
    await asyncio.sleep(0.05)
    await feed.stop()
    assert task is not None and task.done()
