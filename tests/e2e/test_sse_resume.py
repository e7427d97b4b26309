"""SSE as a browser's `EventSource` uses it (issue 16): comments-only keep-alives, a ticket that
stays valid for reconnects of its stream, and a server cut the client resumes from."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from realtime.bus import EventBus
from tests.e2e.realtime_support import register
from tests.e2e.test_realtime_sse import _messages, _take

pytestmark = pytest.mark.e2e

STREAM = "/api/v1/events/stream"


async def _ticket(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/api/v1/realtime/ticket", headers=headers)
    assert response.status_code == 201
    return str(response.json()["ticket"])


async def test_the_stream_never_sends_an_empty_message(apis, redis):
    """Bug: the first frame was `: connected` + `data: ` + `retry: 2000` and every keep-alive
    carried an empty `data:`, so `EventSource.onmessage` fired with `""` and the README's
    `JSON.parse(e.data)` threw."""
    api = await apis.start(sse_keepalive_seconds=0.2)
    user = await register(api.base)
    async with (
        httpx.AsyncClient(base_url=api.base, timeout=30) as client,
        client.stream("GET", STREAM, params={"channels": user.channel}, headers=user.headers) as r,
    ):
        blocks: list[list[str]] = [[]]
        async for line in r.aiter_lines():
            if line == "":
                blocks.append([])
                if sum(1 for b in blocks if b == [": ping"]) >= 3:
                    break
            else:
                blocks[-1].append(line)
        blocks = [b for b in blocks if b]
    assert blocks[0] == [": connected", "retry: 2000"]
    assert [": ping"] in blocks
    for block in blocks:
        data = [line for line in block if line.startswith("data:")]
        comments_only = all(line.startswith((":", "retry:")) for line in block)
        assert comments_only or (data and all(line[5:].strip() for line in data)), block


async def test_a_ticket_is_reusable_for_reconnects_of_its_own_stream_only(apis, redis):
    api = await apis.start(sse_ticket_reuse_seconds=1)
    user = await register(api.base)
    params = {"channels": user.channel}
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        ticket = await _ticket(client, user.headers)
        for _ in range(2):  # first use, then a reconnect of the same stream
            async with client.stream("GET", STREAM, params={**params, "ticket": ticket}) as r:
                assert r.status_code == 200
                await _take(_messages(r), 1, kinds=("subscribed",))
        other = {"channels": f"{user.channel},test:other", "ticket": ticket}
        refused = await client.get(STREAM, params=other)
        assert refused.status_code == 401  # another stream: not this ticket's
        await asyncio.sleep(1.5)  # the reuse window (1 s) ends after the last connection
        late = await client.get(STREAM, params={**params, "ticket": ticket})
        assert late.status_code == 401
        assert late.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_server_cut_stream_resumes_with_its_ticket_and_last_event_id(apis, redis):
    api = await apis.start(sse_max_stream_seconds=0.5, sse_keepalive_seconds=0.2)
    user = await register(api.base)
    bus = EventBus(redis)
    params = {"channels": user.channel}
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        params["ticket"] = await _ticket(client, user.headers)
        async with client.stream("GET", STREAM, params=params) as r:
            stream = _messages(r)
            await _take(stream, 1, kinds=("subscribed",))
            await bus.publish(user.channel, "test.before", {"i": 0})
            [before] = await _take(stream, 1)
            async for _ in stream:  # the server ends the response by itself
                pass
        for i in (1, 2):  # published while the client is away
            await bus.publish(user.channel, "test.missed", {"i": i})
        headers = {"Last-Event-ID": before["id"]}
        async with client.stream("GET", STREAM, params=params, headers=headers) as r:
            assert r.status_code == 200
            got = await _take(_messages(r), 2)
    assert [json.loads(m["data"])["data"]["i"] for m in got] == [1, 2]
