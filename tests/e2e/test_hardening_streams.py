"""Issue 15 on the event streams of a real api process."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.e2e.realtime_support import ORIGIN, connect, expect_close, recv, register

pytestmark = pytest.mark.e2e

STREAM = "/api/v1/events/stream"


async def _realtime_api_token(
    client: httpx.AsyncClient, headers: dict[str, str], name: str
) -> tuple[dict[str, str], dict[str, str]]:
    """A new `realtime:subscribe` API token of the user, and its bearer header."""
    created = await client.post(
        "/api/v1/auth/tokens",
        json={"name": name, "scopes": ["realtime:subscribe"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    token: dict[str, str] = created.json()
    return token, {"Authorization": f"Bearer {token['token']}"}


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


async def test_revoking_an_api_token_closes_its_websocket(shared_api):
    """F2: revoking an API token left the WebSocket opened with it running for up to 15
    minutes (only login sessions were re-checked). Revocation now closes it with 4002, as a
    logged-out session's socket; a socket of the user's login session stays open."""
    user = await register(shared_api.base)
    async with httpx.AsyncClient(base_url=shared_api.base, timeout=30) as client:
        token, bearer = await _realtime_api_token(client, user.headers, "script")
        ticket = await client.post("/api/v1/realtime/ticket", headers=bearer)
        assert ticket.status_code == 201, ticket.text
        by_token = await websockets.connect(
            f"{shared_api.ws}?ticket={ticket.json()['ticket']}", origin=ORIGIN
        )
        assert (await recv(by_token))["type"] == "ready"
        by_session = await connect(shared_api, user)
        revoked = await client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=user.headers)
        assert revoked.status_code == 204, revoked.text
        assert (await expect_close(by_token))[0] == 4002
        # The login session's socket is untouched.
        await by_session.send(json.dumps({"type": "ping", "ref": "p1"}))
        assert (await recv(by_session))["type"] == "pong"
        await by_session.close()
        # A ticket for the revoked token is refused too.
        again = await client.post("/api/v1/realtime/ticket", headers=bearer)
        assert again.status_code == 401


async def _close_event(response: httpx.Response) -> dict[str, object]:
    """Read an SSE stream until its `close` event and return that event's data."""
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "close":
            closed: dict[str, object] = json.loads(line.split(":", 1)[1])
            return closed
        elif not line:
            event = None
    raise AssertionError("the stream ended without a close event")


@pytest.mark.parametrize("opened_with", ["ticket", "bearer"])
async def test_revoking_an_api_token_ends_its_sse_stream(shared_api, opened_with):
    """F2 (SSE): an SSE stream opened with an API token — through a ticket, or with the
    `sbp_` token as bearer — kept running after the token was revoked (the hub compared a
    revocation only with login-session ids, and a bearer API token has none). It now ends
    with a `close` event carrying 4002, like a revoked session's socket."""
    user = await register(shared_api.base)
    async with httpx.AsyncClient(base_url=shared_api.base, timeout=30) as client:
        token, bearer = await _realtime_api_token(client, user.headers, "sse script")
        if opened_with == "ticket":
            ticket = await client.post("/api/v1/realtime/ticket", headers=bearer)
            assert ticket.status_code == 201, ticket.text
            params = {"channels": user.channel, "ticket": ticket.json()["ticket"]}
            headers: dict[str, str] = {}
        else:
            params = {"channels": user.channel}
            headers = bearer
        async with client.stream("GET", STREAM, params=params, headers=headers) as stream:
            assert stream.status_code == 200
            revoked = await client.delete(
                f"/api/v1/auth/tokens/{token['id']}", headers=user.headers
            )
            assert revoked.status_code == 204, revoked.text
            closed = await asyncio.wait_for(_close_event(stream), timeout=20)
        assert closed["code"] == 4002, closed
