"""Bearer verification: the `Actor` for an access token (checked against revocation) or an
API token, and the liveness answer of a session (hot cache, then Redis, then MongoDB)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId
from bson import ObjectId
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from auth.config import AuthConfig
from auth.context import ClientContext
from auth.documents import AuthSession
from auth.liveness import HOT_LIVE, HotSessions
from auth.roles import current_roles
from auth.tokens import AccessClaims, decode_access_token
from server.core.actor import Actor
from server.core.degraded import REDIS_ERRORS
from server.core.errors import Unauthorized

if TYPE_CHECKING:
    from auth.api_tokens.manager import ApiTokenManager

log = logging.getLogger("auth.manager")

PREFETCH_STATE_KEY = "auth_prefetch"


@dataclass(frozen=True, slots=True)
class Prefetched:
    """An access token's claims and its session's Redis liveness answer, learnt once, and
    the client context the guard resolved for the same request (so it is not resolved
    twice: headers, trusted proxies)."""

    token: str
    claims: AccessClaims
    liveness: Sequence[Any]
    client: ClientContext | None = None


def prefetch_claims(
    scope: Any,
    token: str,
    claims: AccessClaims,
    liveness: Sequence[Any],
    client: ClientContext | None = None,
) -> None:
    scope.setdefault("state", {})[PREFETCH_STATE_KEY] = Prefetched(token, claims, liveness, client)


def prefetched_for(scope: Any) -> Prefetched | None:
    prefetched = scope.get("state", {}).get(PREFETCH_STATE_KEY)
    return prefetched if isinstance(prefetched, Prefetched) else None


class BearerAuth:
    """Who a bearer token is, and whether its session still lives."""

    def __init__(self, *, redis: Redis, config: AuthConfig, hot_sessions: HotSessions) -> None:
        self._redis = redis
        self.config = config
        self.hot_sessions = hot_sessions
        self.api_tokens: ApiTokenManager | None = None  # set by `AuthManager.attach`

    async def authenticate(
        self, token: str, ctx: ClientContext, prefetched: Prefetched | None = None
    ) -> Actor:
        """The `Actor` for a bearer access token or a permanent API token (`sbp_…`).

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
        roles = await current_roles(claims.user_id) if claims.roles else frozenset()
        return Actor(
            user_id=ObjectId(claims.user_id),
            username=claims.username,
            roles=roles,
            auth_method=claims.auth_method,
            channel="http",
            session_id=claims.session_id,
            client_ip=ctx.ip,
            user_agent=ctx.user_agent,
            mfa=claims.mfa,
            auth_time=claims.auth_time,
        )

    def queue_session_liveness(self, pipe: Pipeline, session_id: str) -> None:
        """Queue the Redis half of `session_is_live` on a pipeline shared with other work."""
        pipe.mget(f"auth:sess:{session_id}", f"auth:revoked:{session_id}")

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
