"""The voice token endpoint: a LiveKit token for a room the server names, verified with
livekit-api's own verifier."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from livekit import api

from agents.documents import ChatSession
from agents.voice.tokens import InvalidDispatch, decode_metadata
from tests.helpers import assert_error, register
from tests.voice_support import LIVEKIT, VOICE, start_voice

pytestmark = pytest.mark.integration


async def test_token_names_user_room_grants_ttl_and_dispatch(app_factory):
    async with app_factory(**LIVEKIT) as client:
        user = await register(client)
        user_id = user["user"]["id"]
        before = int(time.time())
        call = await start_voice(client, user, agent="family")
        body, claims = call.body, call.claims

        assert set(body) == {"url", "token", "room", "expiresAt", "chatSessionId", "agent"}
        assert body["url"] == LIVEKIT["livekit_url"]
        assert claims.identity == user_id
        assert claims.name == user["user"]["username"]
        assert body["room"] == f"voice-{user_id}-{body['chatSessionId']}"
        video = claims.video
        assert video is not None
        assert video.room_join is True and video.room == body["room"]
        assert video.can_publish and video.can_subscribe
        assert video.can_publish_sources == ["microphone"]
        assert not video.room_admin and not video.room_create and not video.room_list
        assert not video.can_update_own_metadata

        # Short TTL: exp is VOICE_TOKEN_TTL_SECONDS (300 s) from now, and expiresAt says so.
        raw = api.TokenVerifier(LIVEKIT["livekit_api_key"], LIVEKIT["livekit_api_secret"])
        assert raw.verify(body["token"]) is not None
        import jwt

        exp = jwt.decode(body["token"], options={"verify_signature": False})["exp"]
        assert before + 300 <= exp <= int(time.time()) + 300
        assert int(datetime.fromisoformat(body["expiresAt"]).timestamp()) == exp

        # Dispatch of the voice agent with the user and the chat session in its metadata.
        assert claims.room_config is not None
        assert claims.room_config.name == body["room"]
        [dispatch] = claims.room_config.agents
        assert dispatch.agent_name == "second-brain-voice"
        meta = call.meta
        assert meta.user_id == user_id and meta.chat_session_id == body["chatSessionId"]
        assert meta.agent == "family" and meta.room == body["room"]

        # The chat session exists, belongs to the user and will hold the transcripts.
        session = await ChatSession.get(body["chatSessionId"])
        assert session is not None and str(session.user_id) == user_id
        assert session.agent == "family"
        assert call.actor.channel == "voice" and str(call.actor.user_id) == user_id


async def test_client_supplied_identity_and_room_are_ignored(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice = await register(client)
        bob = await register(client)
        call = await start_voice(
            client,
            alice,
            identity=bob["user"]["id"],
            room=f"voice-{bob['user']['id']}-x",
            name="bob",
        )
        assert call.claims.identity == alice["user"]["id"]
        assert call.claims.name == alice["user"]["username"]
        assert call.body["room"].startswith(f"voice-{alice['user']['id']}-")
        assert call.claims.video is not None and call.claims.video.room == call.body["room"]
        assert call.meta.user_id == alice["user"]["id"]
        # Each call names a new room (a new chat session).
        again = await start_voice(client, alice)
        assert again.body["room"] != call.body["room"]
        assert again.meta.agent is None


async def test_voice_unavailable_without_livekit(client):
    user = await register(client)
    response = await client.post(f"{VOICE}/sessions", json={}, headers=user["headers"])
    assert_error(response, 503, "VOICE_UNAVAILABLE")


async def test_token_needs_authentication_and_a_known_agent(app_factory):
    async with app_factory(**LIVEKIT) as client:
        response = await client.post(f"{VOICE}/sessions", json={})
        assert_error(response, 401)
        user = await register(client)
        response = await client.post(
            f"{VOICE}/sessions", json={"agent": "wizard"}, headers=user["headers"]
        )
        assert_error(response, 422, "UNKNOWN_AGENT")


async def test_sessions_are_rate_limited(app_factory):
    async with app_factory(**LIVEKIT, voice_sessions_per_minute=2) as client:
        user = await register(client)
        for _ in range(2):
            await start_voice(client, user)
        response = await client.post(f"{VOICE}/sessions", json={}, headers=user["headers"])
        assert_error(response, 429, "RATE_LIMITED")


async def test_dispatch_metadata_is_signed(app_factory):
    """A dispatch whose metadata was altered (another user id) is refused by the worker."""
    async with app_factory(**LIVEKIT) as client:
        user = await register(client)
        call = await start_voice(client, user)
        assert call.claims.room_config is not None
        raw = call.claims.room_config.agents[0].metadata
        outer = json.loads(raw)
        body = json.loads(outer["body"])
        body["userId"] = "0" * 24
        outer["body"] = json.dumps(body, separators=(",", ":"), sort_keys=True)
        with pytest.raises(InvalidDispatch):
            decode_metadata(json.dumps(outer), str(LIVEKIT["livekit_api_secret"]))
        with pytest.raises(InvalidDispatch):
            decode_metadata(raw, "another-secret")
        with pytest.raises(InvalidDispatch):
            decode_metadata("{}", str(LIVEKIT["livekit_api_secret"]))


async def test_clients_get_the_public_livekit_url(app_factory):
    async with app_factory(**LIVEKIT, livekit_public_url="wss://voice.example.com") as client:
        call = await start_voice(client, await register(client))
        assert call.body["url"] == "wss://voice.example.com"
