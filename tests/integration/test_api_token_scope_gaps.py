"""Closed scope gaps (issue 6): API tokens never manage account security even through an agent
(the check lives in the auth managers, not only in the auth routes), and the chat and voice
agents need the `agents:chat` scope."""

from __future__ import annotations

from typing import Any

import pytest

from agents.tools.registry import NoArgs, ToolContext
from agents.tools.security import (
    ActivityArgs,
    SessionArgs,
    security_passkeys,
    security_recent_activity,
    security_revoke_session,
    security_sessions,
    security_two_factor,
)
from server.core.actor import Actor
from server.core.errors import Forbidden
from tests.helpers import assert_error, register, services
from tests.integration.test_api_token_scopes import as_token, assert_scope_refused, token_for
from tests.voice_support import LIVEKIT, VOICE

pytestmark = pytest.mark.integration

CHAT = "/api/v1/chat"


async def token_actor(client: Any, raw: str) -> Actor:
    """The actor the server builds for a bearer API token (what an agent would act for)."""
    return await services(client).api_tokens.authenticate(raw, ip=None, user_agent=None)  # type: ignore[no-any-return]


async def test_auth_managers_refuse_an_api_token_actor_even_with_every_scope(client):
    """Regression: `require_full_session` was only in the auth routes, so an agent acting for a
    `*` API token could list/revoke sessions, read 2FA/passkeys/audit through the managers."""
    user = await register(client)
    actor = await token_actor(client, await token_for(client, user, "*"))
    assert actor.scopes is not None
    sessions = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    session_id = sessions.json()["items"][0]["id"]
    auth = services(client).auth
    security = services(client)

    calls = [
        auth.sessions.list_sessions(actor),
        auth.sessions.revoke_session(actor, session_id),
        auth.sessions.revoke_other_sessions(actor),
        security.audit.page(actor, None, 10),
        security.api_tokens.list(actor),
        security.api_tokens.revoke(actor, "0" * 24),
        security.totp.status(actor),
        security.webauthn.list(actor),
    ]
    for call in calls:
        with pytest.raises(Forbidden) as refused:
            await call
        assert refused.value.code == "SESSION_REQUIRED", refused.value

    # The session is untouched and the user's own login still manages security.
    after = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    assert after.status_code == 200, after.text
    assert [s["id"] for s in after.json()["items"]] == [session_id]


async def test_security_agent_tools_refuse_an_api_token_actor(client):
    """The security agent's tools, run for an API-token actor, answer SESSION_REQUIRED."""
    user = await register(client)
    actor = (await token_actor(client, await token_for(client, user, "*"))).with_channel("agent")
    ctx = ToolContext(services=services(client), actor=actor, call_id="call-1")
    sessions = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    session_id = sessions.json()["items"][0]["id"]
    tools = [
        security_sessions(ctx, NoArgs()),
        security_revoke_session(ctx, SessionArgs(session_id=session_id)),
        security_recent_activity(ctx, ActivityArgs(limit=5)),
        security_two_factor(ctx, NoArgs()),
        security_passkeys(ctx, NoArgs()),
    ]
    for tool in tools:
        with pytest.raises(Forbidden) as refused:
            await tool
        assert refused.value.code == "SESSION_REQUIRED", refused.value


async def test_chat_needs_the_agents_chat_scope(client):
    """A token without `agents:chat` cannot start, list or use chats; one with it can."""
    user = await register(client)
    other = await token_for(client, user, "wallet:read")
    refused = await client.post(f"{CHAT}/sessions", json={}, headers=as_token(other))
    assert_scope_refused(refused, "agents:chat")
    assert_scope_refused(
        await client.get(f"{CHAT}/sessions", headers=as_token(other)), "agents:chat"
    )

    chat = await token_for(client, user, "agents:chat")
    created = await client.post(f"{CHAT}/sessions", json={}, headers=as_token(chat))
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    listed = await client.get(f"{CHAT}/sessions", headers=as_token(chat))
    assert listed.status_code == 200, listed.text
    assert [s["id"] for s in listed.json()["items"]] == [sid]

    # The wrong token cannot read or write that chat either.
    for response in (
        await client.get(f"{CHAT}/sessions/{sid}", headers=as_token(other)),
        await client.get(f"{CHAT}/sessions/{sid}/messages", headers=as_token(other)),
        await client.post(
            f"{CHAT}/sessions/{sid}/messages", json={"content": "hi"}, headers=as_token(other)
        ),
    ):
        assert_scope_refused(response, "agents:chat")


async def test_voice_session_needs_the_agents_chat_scope(app_factory):
    """POST /voice/sessions with a token lacking `agents:chat` is 403 (LiveKit configured)."""
    async with app_factory(**LIVEKIT) as client:
        user = await register(client)
        other = await token_for(client, user, "wallet:read")
        refused = await client.post(f"{VOICE}/sessions", json={}, headers=as_token(other))
        assert_scope_refused(refused, "agents:chat")
        chat = await token_for(client, user, "agents:chat")
        started = await client.post(f"{VOICE}/sessions", json={}, headers=as_token(chat))
        assert started.status_code in (200, 201), started.text
        assert started.json()["token"]


async def test_session_login_still_uses_chat_without_scopes(client):
    """A full login session (no scopes) is unaffected by the new checks."""
    user = await register(client)
    created = await client.post(f"{CHAT}/sessions", json={}, headers=user["headers"])
    assert created.status_code == 201, created.text
    assert_error(
        await client.get(f"{CHAT}/sessions/{'0' * 24}", headers=user["headers"]),
        404,
        "CHAT_SESSION_NOT_FOUND",
    )


TICKET = "/api/v1/realtime/ticket"


async def test_realtime_ticket_needs_realtime_subscribe_and_carries_the_scopes(client):
    """A token without `realtime:subscribe` gets no ticket; a ticket carries the token's scopes,
    so its socket may read `user:` but not `family:` without `families:read`."""
    user = await register(client)
    assert_scope_refused(
        await client.post(TICKET, headers=as_token(await token_for(client, user, "wallet:read"))),
        "realtime:subscribe",
    )
    family = await client.post(
        "/api/v1/families", json={"name": "Realtime"}, headers=user["headers"]
    )
    assert family.status_code == 201, family.text
    own, fam = f"user:{user['user']['id']}", f"family:{family.json()['id']}"
    hub = client.app.state["realtime"]

    async def channels_for(headers: dict[str, str]) -> dict[str, bool]:
        issued = await client.post(TICKET, headers=headers)
        assert issued.status_code == 201, issued.text
        grant = await hub.tickets.redeem(issued.json()["ticket"])
        assert grant is not None
        actor = grant.actor()
        return {ch: await hub.authorizers.authorize(actor, ch) for ch in (own, fam)}

    sub_only = await token_for(client, user, "realtime:subscribe")
    assert await channels_for(as_token(sub_only)) == {own: True, fam: False}
    both = await token_for(client, user, "realtime:subscribe", "families:read")
    assert await channels_for(as_token(both)) == {own: True, fam: True}
    # A login session is not limited (its grant carries no scopes).
    assert await channels_for(user["headers"]) == {own: True, fam: True}

    # SSE with the token as bearer: the family channel is refused, the user channel is not
    # even reachable without `realtime:subscribe`.
    refused = await client.get(
        "/api/v1/events/stream", params={"channels": fam}, headers=as_token(sub_only)
    )
    assert refused.status_code == 403, refused.text
    no_sub = await token_for(client, user, "families:read")
    assert_scope_refused(
        await client.get(
            "/api/v1/events/stream", params={"channels": own}, headers=as_token(no_sub)
        ),
        "realtime:subscribe",
    )
