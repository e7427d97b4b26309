"""LiveKit access tokens for voice sessions, and the dispatch metadata the worker trusts.

The server names the room (`voice-<user id>-<chat session id>`), the identity is the user
id, and the token's room configuration dispatches the voice agent with metadata telling it
who the user is and which chat session the transcripts join. The metadata is signed with
the LiveKit API secret, so the worker can tell it came from this server (defence in depth:
anyone holding the API key could dispatch an agent with metadata of their choosing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from livekit import api

from agents.voice.config import VoiceConfig
from server.core.actor import Actor

ROOM_PREFIX = "voice-"


def room_name(user_id: Any, chat_session_id: str) -> str:
    return f"{ROOM_PREFIX}{user_id}-{chat_session_id}"


@dataclass(frozen=True, slots=True)
class DispatchMetadata:
    """What the worker learns from the dispatch: the user and the chat session."""

    user_id: str
    username: str
    chat_session_id: str
    room: str
    agent: str | None
    roles: tuple[str, ...] = ()
    auth_session_id: str | None = None
    scopes: tuple[str, ...] | None = None
    expires_at: int = 0  # unix seconds: the worker refuses a dispatch minted long ago

    def to_payload(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "username": self.username,
            "chatSessionId": self.chat_session_id,
            "room": self.room,
            "agent": self.agent,
            "roles": list(self.roles),
            "authSessionId": self.auth_session_id,
            "scopes": None if self.scopes is None else list(self.scopes),
            "exp": self.expires_at,
        }


class InvalidDispatch(ValueError):
    """The job's metadata is missing, malformed or not signed by this server."""


def _sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode_metadata(meta: DispatchMetadata, secret: str) -> str:
    body = json.dumps(meta.to_payload(), separators=(",", ":"), sort_keys=True)
    return json.dumps({"v": 1, "body": body, "sig": _sign(body.encode(), secret)})


def decode_metadata(raw: str, secret: str, *, grace_seconds: int = 3600) -> DispatchMetadata:
    """Check the signature and shape; a dispatch is honoured up to `grace_seconds` after its
    token expired (a room can start a little after the token was minted, never days later)."""
    try:
        outer = json.loads(raw)
        body = outer["body"]
        sig = outer["sig"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidDispatch("dispatch metadata is not a signed voice session") from exc
    if not isinstance(body, str) or not isinstance(sig, str):
        raise InvalidDispatch("dispatch metadata is not a signed voice session")
    if not hmac.compare_digest(_sign(body.encode(), secret), sig):
        raise InvalidDispatch("dispatch metadata signature does not match")
    data = json.loads(body)
    meta = DispatchMetadata(
        user_id=str(data["userId"]),
        username=str(data["username"]),
        chat_session_id=str(data["chatSessionId"]),
        room=str(data["room"]),
        agent=data.get("agent"),
        roles=tuple(data.get("roles") or ()),
        auth_session_id=data.get("authSessionId"),
        scopes=None if data.get("scopes") is None else tuple(data["scopes"]),
        expires_at=int(data.get("exp") or 0),
    )
    if meta.expires_at + grace_seconds < datetime.now(UTC).timestamp():
        raise InvalidDispatch("dispatch metadata has expired")
    if meta.room != room_name(meta.user_id, meta.chat_session_id):
        raise InvalidDispatch("dispatch metadata names another room")
    return meta


@dataclass(frozen=True, slots=True)
class VoiceGrant:
    url: str
    token: str
    room: str
    expires_at: datetime
    chat_session_id: str
    agent: str | None


def mint_token(
    config: VoiceConfig,
    actor: Actor,
    chat_session_id: str,
    agent: str | None,
    *,
    now: datetime | None = None,
) -> VoiceGrant:
    """A token that joins exactly one server-named room as the user, and dispatches the
    voice agent into it. Nothing the client sent reaches the identity or the room."""
    now = now or datetime.now(UTC)
    ttl = timedelta(seconds=config.token_ttl_seconds)
    # The JWT carries whole seconds; report the same instant the token expires at.
    expires_at = (now + ttl).replace(microsecond=0)
    room = room_name(actor.user_id, chat_session_id)
    meta = DispatchMetadata(
        user_id=str(actor.user_id),
        username=actor.username,
        chat_session_id=chat_session_id,
        room=room,
        agent=agent,
        roles=tuple(sorted(actor.roles)),
        auth_session_id=actor.session_id,
        scopes=None if actor.scopes is None else tuple(sorted(actor.scopes)),
        expires_at=int(expires_at.timestamp()),
    )
    token = (
        api.AccessToken(config.livekit_api_key, config.livekit_api_secret)
        .with_identity(str(actor.user_id))
        .with_name(actor.username)
        .with_kind("standard")
        .with_ttl(ttl)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
                can_publish_sources=["microphone"],
                can_update_own_metadata=False,
            )
        )
        .with_room_config(
            api.RoomConfiguration(
                name=room,
                empty_timeout=60,
                departure_timeout=10,
                max_participants=3,  # the user, the agent, one reconnect overlap
                agents=[
                    api.RoomAgentDispatch(
                        agent_name=config.agent_name,
                        metadata=encode_metadata(meta, config.livekit_api_secret),
                    )
                ],
            )
        )
    )
    return VoiceGrant(
        url=config.client_url,
        token=token.to_jwt(),
        room=room,
        expires_at=expires_at,
        chat_session_id=chat_session_id,
        agent=agent,
    )
