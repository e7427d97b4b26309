"""Issue 15 on the event streams of a real api process."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.realtime_support import register

pytestmark = pytest.mark.e2e

STREAM = "/api/v1/events/stream"


@pytest.mark.parametrize("last_event_id", [":²", "e:¹²", ":٣", "x:" + "9" * 90])
async def test_forged_last_event_id_is_ignored_not_a_500(shared_api, last_event_id):
    """F9: a forged `Last-Event-ID` such as `:²` was a 500: `str.isdigit` accepts
    superscripts that `int()` refuses. An unusable position is ignored (a fresh stream)."""
    user = await register(shared_api.base)
    headers = {**user.headers, "Last-Event-ID": last_event_id.encode()}  # raw UTF-8 bytes
    async with (
        httpx.AsyncClient(base_url=shared_api.base, timeout=30) as client,
        client.stream("GET", STREAM, params={"channels": user.channel}, headers=headers) as r,
    ):
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("event:") or line.startswith("data:"):
                break
