"""Single-use WebSocket tickets: 30 s, bound to the user and session, redeemed with GETDEL.

An SSE stream may reuse its ticket: `EventSource` cannot send a header, reconnects on its own
to the same URL, and gives up for good on a non-200. So the first SSE use of a ticket binds it
to that stream (its channel list) and it stays valid for reconnects of that stream until
`stream_reuse` seconds after the stream's last connection ended (and never past the access
token's expiry); any other use answers 401 as before.

Only a SHA-256 of the ticket is stored as the Redis key, and the ticket itself is never logged
(the access log omits query strings; `server.logging_setup` redacts them from uvicorn's lines).
"""

from __future__ import annotations

import hashlib
import secrets
import time

import msgspec
from bson import ObjectId
from redis.asyncio import Redis

from auth.scopes import require_scope
from auth.tokens import auth_method_of
from realtime.authorizers import SUBSCRIBE_SCOPE
from server.core.actor import Actor


class TicketGrant(msgspec.Struct, kw_only=True):
    """What a ticket stands for: the actor, and until when its access token is valid."""

    user_id: str
    username: str
    roles: list[str]
    session_id: str | None
    auth_method: str
    mfa: bool
    token_expires_at: float
    client_ip: str | None = None
    user_agent: str | None = None
    scopes: list[str] | None = None  # an API token's scopes; None for a login session

    def actor(self) -> Actor:
        return Actor(
            user_id=ObjectId(self.user_id),
            username=self.username,
            roles=frozenset(self.roles),
            auth_method=auth_method_of(self.auth_method),
            channel="ws",
            session_id=self.session_id,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            mfa=self.mfa,
            scopes=None if self.scopes is None else frozenset(self.scopes),
        )


class _StreamGrant(msgspec.Struct):
    stream: str
    grant: TicketGrant


def _key(ticket: str) -> str:
    return "rt:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def _stream_key(ticket: str) -> str:
    return "rt:sse-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


class TicketStore:
    def __init__(self, redis: Redis, *, ttl: int = 30, stream_reuse: int = 0) -> None:
        self._redis = redis
        self.ttl = ttl
        self.stream_reuse = stream_reuse

    async def issue(self, actor: Actor, *, token_expires_at: float) -> str:
        require_scope(actor, SUBSCRIBE_SCOPE)
        ticket = secrets.token_urlsafe(32)
        grant = TicketGrant(
            user_id=str(actor.user_id),
            username=actor.username,
            roles=sorted(actor.roles),
            # A stream ends when its credential is revoked: the login session, or else the
            # API token (`tok:<id>`, issue 15 F2).
            session_id=actor.session_id or actor.credential_id,
            auth_method=actor.auth_method,
            mfa=actor.mfa,
            token_expires_at=token_expires_at,
            client_ip=actor.client_ip,
            user_agent=actor.user_agent,
            scopes=None if actor.scopes is None else sorted(actor.scopes),
        )
        await self._redis.set(_key(ticket), msgspec.json.encode(grant), ex=self.ttl)
        return ticket

    async def redeem(self, ticket: str | None) -> TicketGrant | None:
        """The grant for a ticket, at most once; None for missing, unknown, used or expired."""
        if not ticket or len(ticket) > 128:
            return None
        raw = await self._redis.getdel(_key(ticket))
        if raw is None:
            return None
        grant = msgspec.json.decode(raw, type=TicketGrant)
        if grant.token_expires_at <= time.time():
            return None
        return grant

    async def redeem_for_stream(self, ticket: str | None, stream: str) -> TicketGrant | None:
        """The grant for an SSE connection: a fresh ticket, or one this stream already used
        (see the module docstring); None otherwise."""
        if not ticket or len(ticket) > 128:
            return None
        grant = await self.redeem(ticket)
        if grant is not None:
            await self.hold_for_stream(ticket, stream, grant)
            return grant
        if self.stream_reuse <= 0:
            return None
        raw = await self._redis.get(_stream_key(ticket))
        if raw is None:
            return None
        held = msgspec.json.decode(raw, type=_StreamGrant)
        if held.stream != stream or held.grant.token_expires_at <= time.time():
            return None
        return held.grant

    async def hold_for_stream(self, ticket: str, stream: str, grant: TicketGrant) -> None:
        """(Re)start the reuse window: on connect, and again when the connection ends."""
        if self.stream_reuse <= 0 or not ticket:
            return
        value = msgspec.json.encode(_StreamGrant(stream=stream, grant=grant))
        await self._redis.set(_stream_key(ticket), value, ex=self.stream_reuse)
