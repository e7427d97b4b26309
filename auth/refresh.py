"""Refresh-token rotation: each refresh token is used once; a reused one ends its session
(F14: two tabs refreshing at once share one successor within `refresh_grace`)."""

from __future__ import annotations

import logging
from typing import NoReturn

from beanie import PydanticObjectId
from bson import ObjectId
from redis.asyncio import Redis

from auth.audit.manager import AuditLog
from auth.bearer import BearerAuth
from auth.config import AuthConfig
from auth.context import ClientContext
from auth.documents import AuthSession, User
from auth.ratelimit import RateLimiter
from auth.revocation import Revocation
from auth.schemas import AuthResponse, RefreshRequest, UserView
from auth.tokens import (
    compose_refresh_token,
    constant_time_equal,
    issue_access_token,
    new_refresh_secret,
    sha256_hex,
    split_refresh_token,
)
from server.core.clock import utcnow
from server.core.errors import Unauthorized
from server.core.ids import stored_id
from server.core.wire import validate

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


def auth_response(
    config: AuthConfig, user: User, session: AuthSession, secret: str
) -> AuthResponse:
    """What a login or refresh answers: a new access token and the refresh token."""
    access = issue_access_token(
        secret=config.secret_key,
        issuer=config.jwt_issuer,
        ttl=config.access_token_ttl,
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
        expires_in=config.access_token_ttl,
    )


class RefreshRotation:
    def __init__(
        self,
        *,
        redis: Redis,
        config: AuthConfig,
        audit: AuditLog,
        limits: RateLimiter,
        bearer: BearerAuth,
        revocation: Revocation,
    ) -> None:
        self._redis = redis
        self.config = config
        self.audit = audit
        self._limits = limits
        self._bearer = bearer
        self._revocation = revocation

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
            await self._revocation.revoke(
                [stored_id(session.id)], session.user_id, reason="idle_timeout"
            )
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
            return await self._refreshed(session, granted)
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
            fresh = await AuthSession.get(stored_id(session.id))
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
        await self._bearer.mark_live(str(session.id))
        return auth_response(self.config, user, session, new_secret)

    async def _revoke_reused(self, session: AuthSession) -> NoReturn:
        log.warning("refresh token reuse; session revoked", extra={"session": str(session.id)})
        await self.audit.record(
            "session.refresh_reused",
            user_id=session.user_id,
            session_id=str(session.id),
            data={"generation": session.generation},
        )
        await self._revocation.revoke(
            [stored_id(session.id)], session.user_id, reason="refresh_token_reuse"
        )
        raise Unauthorized(
            "This refresh token was already used; the session has been ended.",
            code="REFRESH_TOKEN_REUSED",
        )
