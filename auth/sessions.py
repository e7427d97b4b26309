"""Sessions and tokens: refresh rotation, authentication of bearer tokens, revocation.

A collaborator of `AuthManager` (`auth.sessions`); the auth routes receive it as `sessions`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from auth.audit.manager import AuditLog
from auth.config import AuthConfig
from auth.context import ClientContext
from auth.documents import AuthSession, User
from auth.liveness import HOT_LIVE, HotSessions
from auth.ratelimit import RateLimiter
from auth.schemas import (
    AuthResponse,
    RefreshRequest,
    SessionRevokedEvent,
    SessionView,
    UserView,
)
from auth.scopes import require_full_session
from auth.stepup import require_recent_auth
from auth.tokens import (
    AccessClaims,
    compose_refresh_token,
    constant_time_equal,
    decode_access_token,
    issue_access_token,
    new_refresh_secret,
    sha256_hex,
    split_refresh_token,
)
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.degraded import REDIS_ERRORS
from server.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from server.core.wire import validate

if TYPE_CHECKING:
    from auth.api_tokens.manager import ApiTokenManager

log = logging.getLogger("auth.manager")

KEEP_PREVIOUS_HASHES = 50


def user_view(user: User) -> UserView:
    return UserView(
        id=str(user.id),
        username=user.username,
        email=user.email,
        email_verified=user.email_verified,
        roles=sorted(user.roles),
        created_at=user.created_at,
    )


PREFETCH_STATE_KEY = "auth_prefetch"
ROLE_CACHE_SECONDS = 5.0
_ROLE_CACHE: dict[str, tuple[float, frozenset[str]]] = {}


@dataclass(frozen=True, slots=True)
class Prefetched:
    """An access token's claims and its session's Redis liveness answer, learnt once."""

    token: str
    claims: AccessClaims
    liveness: Sequence[Any]


def prefetch_claims(scope: Any, token: str, claims: AccessClaims, liveness: Sequence[Any]) -> None:
    scope.setdefault("state", {})[PREFETCH_STATE_KEY] = Prefetched(token, claims, liveness)


def prefetched_for(scope: Any) -> Prefetched | None:
    prefetched = scope.get("state", {}).get(PREFETCH_STATE_KEY)
    return prefetched if isinstance(prefetched, Prefetched) else None


class Sessions:
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        redis: Redis,
        bus: EventBus,
        config: AuthConfig,
        audit: AuditLog,
        limits: RateLimiter,
        hot_sessions: HotSessions,
    ) -> None:
        self._mongo = mongo
        self._redis = redis
        self._bus = bus
        self.config = config
        self.audit = audit
        self._limits = limits
        self.hot_sessions = hot_sessions
        self.api_tokens: ApiTokenManager | None = None  # set by `AuthManager.attach`

    def auth_response(self, user: User, session: AuthSession, secret: str) -> AuthResponse:
        access = issue_access_token(
            secret=self.config.secret_key,
            issuer=self.config.jwt_issuer,
            ttl=self.config.access_token_ttl,
            user_id=str(user.id),
            session_id=str(session.id),
            username=user.username,
            roles=sorted(user.roles),
            auth_method=session.auth_method,
            mfa=session.mfa,
            auth_time=session.auth_time.timestamp(),
        )
        return AuthResponse(
            user=user_view(user),
            access_token=access,
            refresh_token=compose_refresh_token(str(session.id), secret),
            expires_in=self.config.access_token_ttl,
        )

    async def refresh(self, cmd: RefreshRequest, ctx: ClientContext) -> AuthResponse:
        cmd = validate(cmd)
        await self._limits.hit(
            "refresh", ctx.ip or "-", limit=self.config.auth_per_ip_per_minute * 2, window=60
        )
        session_id, secret = split_refresh_token(cmd.refresh_token)
        if not ObjectId.is_valid(session_id):
            raise Unauthorized("The refresh token is not valid.", code="INVALID_REFRESH_TOKEN")
        presented = sha256_hex(secret)
        session = await AuthSession.get(PydanticObjectId(session_id))
        if session is None or not session.is_active:
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        idle = (utcnow() - session.last_used_at).total_seconds()
        if idle > self.config.session_idle_timeout:
            await self._revoke([session.id], session.user_id, reason="idle_timeout")  # type: ignore[list-item]
            await self.audit.record(
                "session.idle_timeout", user_id=session.user_id, session_id=str(session.id)
            )
            raise Unauthorized(
                "The session was idle too long. Log in again.", code="SESSION_EXPIRED"
            )
        if presented in session.previous_hashes:
            # F14: two tabs refreshing at once. The token rotated within the grace gets the
            # pair it was rotated to; any older token, or after the grace, is reuse.
            granted = await self._grace_secret(presented)
            if granted is None or session.refresh_hash != sha256_hex(granted):
                await self._revoke_reused(session)
            return await self._refreshed(session, granted)  # type: ignore[arg-type]
        if not constant_time_equal(presented, session.refresh_hash):
            raise Unauthorized("The refresh token is not valid.", code="INVALID_REFRESH_TOKEN")

        # Reserve the successor first (set-if-absent), so a concurrent refresh with the same
        # token ends on the same secret instead of looking like reuse.
        new_secret = await self._reserve_successor(presented, new_refresh_secret())
        now = utcnow()
        updated = await AuthSession.get_pymongo_collection().find_one_and_update(
            {"_id": session.id, "refresh_hash": presented, "revoked_at": None},
            {
                "$set": {
                    "refresh_hash": sha256_hex(new_secret),
                    "last_used_at": now,
                    "ip": ctx.ip,
                    "user_agent": (ctx.user_agent or "")[:300] or None,
                },
                "$push": {
                    "previous_hashes": {"$each": [presented], "$slice": -KEEP_PREVIOUS_HASHES}
                },
                "$inc": {"generation": 1},
            },
        )
        if updated is None:
            # Someone rotated this very token a moment ago: the same successor within the
            # grace (another tab), else it is being used twice.
            fresh = await AuthSession.get(session.id)
            if fresh is not None and fresh.is_active:
                if fresh.refresh_hash == sha256_hex(new_secret) and self.config.refresh_grace:
                    return await self._refreshed(fresh, new_secret)
                await self._revoke_reused(fresh)
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        return await self._refreshed(session, new_secret)

    def _grace_key(self, presented_hash: str) -> str:
        return f"auth:refresh-grace:{presented_hash}"

    async def _reserve_successor(self, presented_hash: str, candidate: str) -> str:
        """The secret this refresh token rotates to: `candidate`, or the one a concurrent
        refresh reserved first (kept `refresh_grace` seconds; 0 = no grace)."""
        grace = self.config.refresh_grace
        if grace <= 0:
            return candidate
        key = self._grace_key(presented_hash)
        if await self._redis.set(key, candidate, nx=True, ex=grace):
            return candidate
        existing = await self._redis.get(key)
        if existing is None:
            return candidate
        return existing.decode() if isinstance(existing, bytes) else str(existing)

    async def _grace_secret(self, presented_hash: str) -> str | None:
        """The successor of a token rotated less than `refresh_grace` seconds ago."""
        if self.config.refresh_grace <= 0:
            return None
        value = await self._redis.get(self._grace_key(presented_hash))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def _refreshed(self, session: AuthSession, new_secret: str) -> AuthResponse:
        """The answer of a successful refresh: a new access token and `new_secret`."""
        user = await User.get(session.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        session.refresh_hash = sha256_hex(new_secret)
        await self.mark_live(str(session.id))
        return self.auth_response(user, session, new_secret)

    async def _revoke_reused(self, session: AuthSession) -> None:
        log.warning("refresh token reuse; session revoked", extra={"session": str(session.id)})
        await self.audit.record(
            "session.refresh_reused",
            user_id=session.user_id,
            session_id=str(session.id),
            data={"generation": session.generation},
        )
        await self._revoke([session.id], session.user_id, reason="refresh_token_reuse")  # type: ignore[list-item]
        raise Unauthorized(
            "This refresh token was already used; the session has been ended.",
            code="REFRESH_TOKEN_REUSED",
        )

    async def authenticate(
        self, token: str, ctx: ClientContext, prefetched: Prefetched | None = None
    ) -> Actor:
        """The `Actor` for a bearer access token (checked against session revocation) or for
        a permanent API token (`sbp_…`, with its scopes).

        `prefetched` carries what the rate-limit guard already learnt for this very token
        (its claims and the Redis liveness answer), so neither is repeated."""
        if token.startswith("sbp_") and self.api_tokens is not None:
            return await self.api_tokens.authenticate(token, ip=ctx.ip, user_agent=ctx.user_agent)
        if prefetched is not None and prefetched.token == token:
            claims = prefetched.claims
            live = await self._liveness_from(claims.session_id, prefetched.liveness)
        else:
            claims = decode_access_token(
                token, secret=self.config.secret_key, issuer=self.config.jwt_issuer
            )
            live = await self.session_is_live(claims.session_id)
        if not live:
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        roles = await self._current_roles(claims.user_id) if claims.roles else frozenset()
        return Actor(
            user_id=ObjectId(claims.user_id),
            username=claims.username,
            roles=roles,
            auth_method=claims.auth_method,  # type: ignore[arg-type]
            channel="http",
            session_id=claims.session_id,
            client_ip=ctx.ip,
            user_agent=ctx.user_agent,
            mfa=claims.mfa,
            auth_time=claims.auth_time,
        )

    async def _current_roles(self, user_id: str) -> frozenset[str]:
        """The user's roles as stored, cached `ROLE_CACHE_SECONDS` (issue 15, F6): roles are
        never taken from the token alone, so a forged or stale claim grants nothing and a
        demotion bites within seconds, not at the access token's expiry. Tokens that claim
        no role skip this (they can only hold less than the user has)."""
        now = time.monotonic()
        cached = _ROLE_CACHE.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        raw = (
            await User.get_pymongo_collection().find_one(
                {"_id": ObjectId(user_id)}, {"roles": 1, "is_active": 1}
            )
            if ObjectId.is_valid(user_id)
            else None
        )
        active = raw is not None and raw.get("is_active", True)
        roles = frozenset(raw.get("roles") or ()) if raw and active else frozenset()
        if len(_ROLE_CACHE) > 10_000:
            _ROLE_CACHE.clear()
        _ROLE_CACHE[user_id] = (now + ROLE_CACHE_SECONDS, roles)
        return roles

    def queue_session_liveness(self, pipe: Pipeline, session_id: str) -> None:
        """Queue the Redis half of `session_is_live` on a pipeline shared with other work."""
        pipe.mget(f"auth:sess:{session_id}", f"auth:revoked:{session_id}")

    async def credentials_revoked(self, user_id: ObjectId, credential_ids: list[str]) -> None:
        """API tokens were revoked: their streams close (issue 15, F2), as a logged-out
        session's do: `session.revoked` on `user:{id}` names them, and Redis remembers."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for cid in credential_ids:
                    pipe.set(f"auth:revoked:{cid}", "revoked", ex=self.config.access_token_ttl + 60)
                await pipe.execute()
        except REDIS_ERRORS:
            log.warning("redis unavailable: token revocation not cached")
        await self._bus.publish(
            user_channel(user_id),
            "session.revoked",
            SessionRevokedEvent(session_ids=credential_ids, reason="token_revoked"),
        )

    async def session_is_live(self, session_id: str) -> bool:
        """The hot cache answers within AUTH_HOT_CACHE_SECONDS; then Redis for recent
        sessions; the database when Redis does not know. `tok:<id>` is an API token
        (a stream opened with one)."""
        if session_id.startswith("tok:"):
            return self.api_tokens is not None and await self.api_tokens.is_live(session_id[4:])
        hot = self.hot_sessions.get(session_id)
        if hot is not None:
            return hot
        try:
            answer = await self._redis.mget(f"auth:sess:{session_id}", f"auth:revoked:{session_id}")
        except REDIS_ERRORS:
            answer = [None, None]  # Redis is down: the database decides (issue 15, F3)
        return await self._liveness_from(session_id, answer)

    async def _liveness_from(self, session_id: str, answer: Sequence[Any]) -> bool:
        if answer is HOT_LIVE:
            return True  # the hot cache's own answer: it must not extend itself
        live, revoked = answer
        if revoked is not None:
            self.hot_sessions.forget([session_id])
            return False
        if live is not None:
            self.hot_sessions.mark_live(session_id)
            return True
        if not ObjectId.is_valid(session_id):
            return False
        session = await AuthSession.get(PydanticObjectId(session_id))
        if session is None or not session.is_active:
            return False
        await self.mark_live(session_id)
        self.hot_sessions.mark_live(session_id)
        return True

    async def mark_live(self, session_id: str) -> None:
        """Remember a live session in Redis (a cache: without Redis the database answers)."""
        try:
            await self._redis.set(f"auth:sess:{session_id}", "1", ex=self.config.access_token_ttl)
        except REDIS_ERRORS:
            log.warning("redis unavailable: session liveness not cached")

    async def _revoke(
        self, session_ids: Sequence[ObjectId], user_id: ObjectId, *, reason: str
    ) -> list[str]:
        if not session_ids:
            return []
        now = utcnow()
        ids = [str(sid) for sid in session_ids]
        self.hot_sessions.forget(ids)  # this process refuses them at once
        # Redis first: the access tokens stop working before the revocation commits, never
        # after (a failed commit leaves them refused until they expire: fail closed).
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.delete(f"auth:sess:{sid}")
                pipe.set(f"auth:revoked:{sid}", reason, ex=self.config.access_token_ttl + 60)
            await pipe.execute()

        async def work(tx: Tx) -> None:
            await AuthSession.get_pymongo_collection().update_many(
                {"_id": {"$in": list(session_ids)}, "revoked_at": None},
                {"$set": {"revoked_at": now, "revoked_reason": reason}},
                session=tx.session,
            )
            tx.publish(
                user_channel(user_id),
                "session.revoked",
                SessionRevokedEvent(session_ids=ids, reason=reason),
            )

        await run_in_transaction(self._mongo, work, publisher=self._bus)
        return ids

    async def logout(self, actor: Actor) -> None:
        """End the actor's login session. With an API token there is none: it answered 204
        and did nothing (issue 15, F12); now 400 `NOT_A_SESSION` (revoke the token instead)."""
        if not actor.session_id:
            raise BadRequest(
                "This credential is not a login session; revoke an API token instead.",
                code="NOT_A_SESSION",
            )
        if actor.session_id:
            await self._revoke([ObjectId(actor.session_id)], actor.user_id, reason="logout")
            await self.audit.record("logout", actor=actor)

    async def list_sessions(self, actor: Actor) -> list[SessionView]:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        sessions = (
            await AuthSession.find(
                AuthSession.user_id == actor.user_id,
                AuthSession.revoked_at == None,  # noqa: E711 (a Mongo query, not a comparison)
                AuthSession.expires_at > utcnow(),
            )
            .sort(-AuthSession.last_used_at)  # type: ignore[operator]
            .to_list()
        )
        return [
            SessionView(
                id=str(s.id),
                auth_method=s.auth_method,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                ip=s.ip,
                user_agent=s.user_agent,
                current=str(s.id) == actor.session_id,
            )
            for s in sessions
        ]

    async def revoke_session(self, actor: Actor, session_id: str) -> None:
        """Revoke one of the actor's own sessions (404 for anyone else's, to reveal nothing).
        Needs a fresh authentication (ASVS 7.5.2)."""
        require_recent_auth(actor)
        if not ObjectId.is_valid(session_id):
            raise NotFound("No such session.", code="SESSION_NOT_FOUND")
        session = await AuthSession.get(PydanticObjectId(session_id))
        if session is None or session.user_id != actor.user_id or session.revoked_at is not None:
            raise NotFound("No such session.", code="SESSION_NOT_FOUND")
        await self._revoke([session.id], actor.user_id, reason="revoked_by_user")  # type: ignore[list-item]
        await self.audit.record("session.revoked", actor=actor, data={"sessionId": session_id})

    async def admin_revoke_sessions(self, actor: Actor, user_id: str) -> int:
        """An administrator ends every session of one user (ASVS 7.4.5)."""
        require_recent_auth(actor)
        if not actor.is_admin:
            raise Forbidden("Only administrators may do this.", code="ADMIN_REQUIRED")
        if not ObjectId.is_valid(user_id) or await User.get(PydanticObjectId(user_id)) is None:
            raise NotFound("No such user.", code="USER_NOT_FOUND")
        ids = await self.revoke_all_sessions(ObjectId(user_id), reason="revoked_by_admin")
        await self.audit.record(
            "session.revoked_by_admin", actor=actor, data={"userId": user_id, "sessions": len(ids)}
        )
        return len(ids)

    async def revoke_other_sessions(self, actor: Actor) -> int:
        """End every other session of the actor (needs a fresh authentication)."""
        require_recent_auth(actor)
        ids = await self.revoke_all_sessions(
            actor.user_id, except_session=actor.session_id, reason="revoked_by_user"
        )
        return len(ids)

    async def revoke_all_sessions(
        self, user_id: ObjectId, *, except_session: str | None = None, reason: str
    ) -> list[str]:
        query: dict[str, Any] = {"user_id": user_id, "revoked_at": None}
        if except_session and ObjectId.is_valid(except_session):
            query["_id"] = {"$ne": ObjectId(except_session)}
        ids = [
            doc["_id"] async for doc in AuthSession.get_pymongo_collection().find(query, {"_id": 1})
        ]
        revoked = await self._revoke(ids, user_id, reason=reason)
        if revoked:
            await self.audit.record(
                "session.revoked_all",
                user_id=user_id,
                data={"reason": reason, "sessions": len(revoked)},
            )
        return revoked

    async def cleanup_sessions(self, *, keep_revoked_days: int = 30) -> int:
        """Delete sessions whose refresh token expired, and revoked ones past their history."""
        now = datetime.now(UTC)
        result = await AuthSession.get_pymongo_collection().delete_many(
            {
                "$or": [
                    {"expires_at": {"$lt": now}},
                    {"revoked_at": {"$lt": now - timedelta(days=keep_revoked_days)}},
                ]
            }
        )
        return int(result.deleted_count)
