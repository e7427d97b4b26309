"""Sessions and tokens: a facade over refresh rotation (`auth.refresh`), bearer
verification (`auth.bearer`) and revocation (`auth.revocation`), plus the user's own view
of their sessions.

A collaborator of `AuthManager` (`auth.sessions`); the auth routes receive it as `sessions`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from auth.audit.manager import AuditLog
from auth.bearer import BearerAuth, Prefetched, prefetch_claims, prefetched_for
from auth.config import AuthConfig
from auth.context import ClientContext
from auth.documents import AuthSession, User
from auth.liveness import HotSessions
from auth.ratelimit import RateLimiter
from auth.refresh import KEEP_PREVIOUS_HASHES, RefreshRotation, auth_response, user_view
from auth.revocation import Revocation
from auth.schemas import AuthResponse, RefreshRequest, SessionView
from auth.scopes import require_full_session
from auth.stepup import require_recent_auth
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import BadRequest, Forbidden, NotFound
from server.core.ids import stored_id

if TYPE_CHECKING:
    from auth.api_tokens.manager import ApiTokenManager

__all__ = [
    "KEEP_PREVIOUS_HASHES",
    "Prefetched",
    "Sessions",
    "prefetch_claims",
    "prefetched_for",
    "user_view",
]


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
        self.config = config
        self.audit = audit
        self.hot_sessions = hot_sessions
        self.bearer = BearerAuth(redis=redis, config=config, hot_sessions=hot_sessions)
        self.revocation = Revocation(
            mongo=mongo,
            redis=redis,
            bus=bus,
            config=config,
            audit=audit,
            hot_sessions=hot_sessions,
        )
        self.rotation = RefreshRotation(
            redis=redis,
            config=config,
            audit=audit,
            limits=limits,
            bearer=self.bearer,
            revocation=self.revocation,
        )

    @property
    def api_tokens(self) -> ApiTokenManager | None:
        return self.bearer.api_tokens

    @api_tokens.setter
    def api_tokens(self, value: ApiTokenManager | None) -> None:
        """Set by `AuthManager.attach` (API tokens need the auth manager themselves)."""
        self.bearer.api_tokens = value

    def auth_response(self, user: User, session: AuthSession, secret: str) -> AuthResponse:
        return auth_response(self.config, user, session, secret)

    async def refresh(self, cmd: RefreshRequest, ctx: ClientContext) -> AuthResponse:
        return await self.rotation.refresh(cmd, ctx)

    async def authenticate(
        self, token: str, ctx: ClientContext, prefetched: Prefetched | None = None
    ) -> Actor:
        """The `Actor` for a bearer token (see `BearerAuth.authenticate`)."""
        return await self.bearer.authenticate(token, ctx, prefetched)

    def queue_session_liveness(self, pipe: Pipeline, session_id: str) -> None:
        self.bearer.queue_session_liveness(pipe, session_id)

    async def session_is_live(self, session_id: str) -> bool:
        return await self.bearer.session_is_live(session_id)

    async def mark_live(self, session_id: str) -> None:
        await self.bearer.mark_live(session_id)

    async def credentials_revoked(self, user_id: ObjectId, credential_ids: list[str]) -> None:
        await self.revocation.credentials_revoked(user_id, credential_ids)

    async def logout(self, actor: Actor) -> None:
        """End the actor's login session. With an API token there is none: it answered 204
        and did nothing (issue 15, F12); now 400 `NOT_A_SESSION` (revoke the token instead)."""
        if not actor.session_id:
            raise BadRequest(
                "This credential is not a login session; revoke an API token instead.",
                code="NOT_A_SESSION",
            )
        await self.revocation.revoke([ObjectId(actor.session_id)], actor.user_id, reason="logout")
        await self.audit.record("logout", actor=actor)

    async def list_sessions(self, actor: Actor) -> list[SessionView]:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        sessions = (
            await AuthSession.find(
                AuthSession.user_id == actor.user_id,
                AuthSession.revoked_at == None,  # noqa: E711 (a Mongo query, not a comparison)
                AuthSession.expires_at > utcnow(),
            )
            .sort("-last_used_at")
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
        await self.revocation.revoke(
            [stored_id(session.id)], actor.user_id, reason="revoked_by_user"
        )
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
        return await self.revocation.revoke_all(
            user_id, except_session=except_session, reason=reason
        )

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
