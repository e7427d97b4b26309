"""Opening a login session once every factor passed (login guards, session listeners), and
step-up: a fresh `auth_time` on the running session after the password is checked again."""

from __future__ import annotations

from datetime import timedelta

from beanie import PydanticObjectId

from auth.audit.manager import AuditLog
from auth.config import AuthConfig
from auth.context import ClientContext, LoginGuard, SessionListener
from auth.credentials import Credentials
from auth.documents import AuthSession, User
from auth.refresh import KEEP_PREVIOUS_HASHES
from auth.schemas import AuthResponse, ReauthRequest
from auth.sessions import Sessions
from auth.tokens import new_refresh_secret, sha256_hex
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Unauthorized
from server.core.ids import stored_id


class SessionStarter:
    def __init__(
        self,
        *,
        config: AuthConfig,
        audit: AuditLog,
        sessions: Sessions,
        credentials: Credentials,
    ) -> None:
        self.config = config
        self.audit = audit
        self._sessions = sessions
        self._credentials = credentials
        self.login_guards: list[LoginGuard] = []
        self.session_listeners: list[SessionListener] = []

    async def complete_login(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        """Every factor passed: apply the login guards (lockdown), open a session, audit it."""
        for guard in self.login_guards:
            await guard.check_login(user, auth_method, ctx)
        response = await self.start(user, auth_method=auth_method, mfa=mfa, ctx=ctx)
        await self.audit.record(
            "login.succeeded",
            user_id=user.id,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            auth_method=auth_method,
            data={"mfa": mfa},
        )
        return response

    async def start(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        secret = new_refresh_secret()
        now = utcnow()
        session = AuthSession(
            user_id=stored_id(user.id),
            refresh_hash=sha256_hex(secret),
            auth_method=auth_method,
            mfa=mfa,
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:300] or None,
            created_at=now,
            last_used_at=now,
            auth_time=now,
            expires_at=now + timedelta(seconds=self.config.refresh_token_ttl),
        )
        await session.insert()
        await self._sessions.mark_live(str(session.id))
        for listener in self.session_listeners:
            await listener.on_session_started(user, session, ctx)
        return self._sessions.auth_response(user, session, secret)

    async def reauthenticate(
        self, actor: Actor, user: User, cmd: ReauthRequest, ctx: ClientContext
    ) -> AuthResponse:
        """Step-up: check the password (and 2FA) again; the session gets a new refresh token
        and a fresh `auth_time`, so the next ≤ 5 minutes allow sensitive changes."""
        await self._credentials.verify(user.username, cmd.password, ctx=ctx)
        mfa = await self._credentials.second_factor(user, cmd.totp_code, cmd.backup_code, ctx)
        session = await AuthSession.get(PydanticObjectId(actor.session_id))
        if session is None or not session.is_active:
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        secret = new_refresh_secret()
        now = utcnow()
        await AuthSession.get_pymongo_collection().update_one(
            {"_id": session.id},
            {
                "$set": {
                    "refresh_hash": sha256_hex(secret),
                    "auth_time": now,
                    "last_used_at": now,
                    "mfa": mfa or session.mfa,
                },
                "$push": {
                    "previous_hashes": {
                        "$each": [session.refresh_hash],
                        "$slice": -KEEP_PREVIOUS_HASHES,
                    }
                },
                "$inc": {"generation": 1},
            },
        )
        session.auth_time = now
        session.mfa = mfa or session.mfa
        await self.audit.record("session.reauthenticated", actor=actor, data={"mfa": mfa})
        return self._sessions.auth_response(user, session, secret)
