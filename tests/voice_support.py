"""Helpers for the voice tests (not a test module): an app with LiveKit configured, a voice
session minted over HTTP and resolved the way the worker resolves it."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from livekit import api
from livekit.api.access_token import Claims

from agents.voice.identity import resolve_actor
from agents.voice.tokens import DispatchMetadata, decode_metadata
from agents.voice.turns import VoiceTurns
from server.core.actor import Actor
from server.core.channels import user_channel
from tests.helpers import register, services
from tests.integration.wallet_support import admin, mint

LIVEKIT: dict[str, Any] = {
    "livekit_url": "wss://livekit.test",
    "livekit_api_key": "APItestkey",
    "livekit_api_secret": "test-secret-0123456789abcdef0123456789abcdef",
    "wallet_require_verified_email": False,
}
VOICE = "/api/v1/voice"


@dataclass
class VoiceCall:
    body: dict[str, Any]
    claims: Claims
    meta: DispatchMetadata
    actor: Actor

    @property
    def chat_session_id(self) -> str:
        return self.meta.chat_session_id


async def start_voice(client: httpx.AsyncClient, user: dict[str, Any], **body: Any) -> VoiceCall:
    response = await client.post(f"{VOICE}/sessions", json=body, headers=user["headers"])
    assert response.status_code == 201, response.text
    data = response.json()
    claims = api.TokenVerifier(LIVEKIT["livekit_api_key"], LIVEKIT["livekit_api_secret"]).verify(
        data["token"]
    )
    assert claims.room_config is not None
    dispatch = claims.room_config.agents[0]
    meta = decode_metadata(dispatch.metadata, str(LIVEKIT["livekit_api_secret"]))
    actor = await resolve_actor(services(client), meta, claims.identity)
    return VoiceCall(data, claims, meta, actor)


def voice_turns(client: httpx.AsyncClient, call: VoiceCall, **kwargs: Any) -> VoiceTurns:
    return VoiceTurns(
        services=services(client),
        actor=call.actor,
        chat_session_id=call.chat_session_id,
        agent=call.meta.agent,
        **kwargs,
    )


def espeak_wav(text: str, path: Path) -> Path:
    """A WAV of `text` spoken by espeak-ng (skips the test when it is not installed)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    subprocess.run([exe, "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return path


async def events_of(client: Any, user: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    raws = await services(client).bus.read_since(user_channel(user["user"]["id"]), 0)
    events = [json.loads(raw) for raw in raws]
    return [e["data"] for e in events if e["type"] == type_]


async def funded_pair(client: Any, amount: int = 100) -> tuple[dict[str, Any], dict[str, Any]]:
    alice = await register(client)
    bob = await register(client)
    await mint(client, await admin(client), alice["user"]["username"], amount)
    return alice, bob
