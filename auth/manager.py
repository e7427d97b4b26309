"""Accounts and sessions: the only write path for users and their logins."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from auth.actor import Actor
from auth.audit.manager import AuditLog
from auth.config import AuthConfig
from auth.documents import AuthSession, User, utcnow
from auth.passwords import Passwords, check_password_policy
from auth.ratelimit import LoginThrottle, RateLimiter
from auth.schemas import (
    AuthResponse,
    LoginRequest,
    PasswordChangeRequest,
    ReauthRequest,
    RefreshRequest,
    RegisterRequest,
    SessionRevokedEvent,
    SessionView,
    UserView,
)
from auth.stepup import require_recent_auth
from auth.tokens import (
    compose_refresh_token,
    constant_time_equal,
    decode_access_token,
    issue_access_token,
    new_refresh_secret,
    sha256_hex,
    split_refresh_token,
)
from realtime.bus import EventBus
from server.db import run_in_transaction
from server.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable

if TYPE_CHECKING:
    from auth.api_tokens.manager import ApiTokenManager
    from auth.totp.manager import TotpManager

log = logging.getLogger("auth.manager")

RESERVED_PREFIXES = ("family_", "team_", "admin_", "system_", "bot_", "service_")
_USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,50}$")
_KEEP_PREVIOUS_HASHES = 50
_INVALID_LOGIN = "The login or password is incorrect."

# Called inside the registration transaction, e.g. to open the user's wallet account.
UserCreatedHook = Callable[[User, AsyncClientSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Where a request comes from (resolved by the route from headers and trusted proxies)."""

    ip: str | None = None
    user_agent: str | None = None


class LoginGuard(Protocol):
    """Refuses a login that passed every factor (lockdown); raises a `DomainError`."""

    async def check_login(self, user: User, auth_method: str, ctx: ClientContext) -> None: ...


class SessionListener(Protocol):
    """Told about every new session (new-device alerts)."""

    async def on_session_started(
        self, user: User, session: AuthSession, ctx: ClientContext
    ) -> None: ...


class SecurityNotifier(Protocol):
    """Tells the user by e-mail about changes to how they sign in."""

    async def password_changed(self, user: User, how: str, ctx: ClientContext) -> None: ...


def user_view(user: User) -> UserView:
    return UserView(
        id=str(user.id),
        username=user.username,
        email=user.email,
        email_verified=user.email_verified,
        roles=sorted(user.roles),
        created_at=user.created_at,
    )


def user_channel(user_id: Any) -> str:
    return f"user:{user_id}"


class AuthManager:
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        redis: Redis,
        bus: EventBus,
        config: AuthConfig,
        user_created_hooks: Sequence[UserCreatedHook] = (),
        audit: AuditLog | None = None,
    ) -> None:
        self._mongo = mongo
        self._redis = redis
        self._bus = bus
        self.config = config
        self._user_created_hooks = list(user_created_hooks)
        self.audit = audit or AuditLog()
        # Collaborators wired by the composition root (`attach`); each part of auth/ that
        # routes reach through this manager.
        self.api_tokens: ApiTokenManager | None = None
        self.totp: TotpManager | None = None
        self.webauthn: Any = None
        self.lockdown: Any = None
        self.account: Any = None
        self.outbox: Any = None
        self.one_time_tokens: Any = None
        self._login_guards: list[LoginGuard] = []
        self._session_listeners: list[SessionListener] = []
        self._notifier: SecurityNotifier | None = None
        self.passwords = Passwords(
            time_cost=config.argon2_time_cost,
            memory_kib=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
        )
        self._limits = RateLimiter(redis)
        self.limits = self._limits
        self._throttle = LoginThrottle(
            redis,
            max_failures=config.login_max_failures,
            window=config.login_failure_window,
            max_delay=config.login_max_delay,
        )

    def add_user_created_hook(self, hook: UserCreatedHook) -> None:
        self._user_created_hooks.append(hook)

    def attach(
        self,
        *,
        api_tokens: ApiTokenManager | None = None,
        totp: TotpManager | None = None,
        webauthn: Any = None,
        lockdown: Any = None,
        account: Any = None,
        login_guards: Sequence[LoginGuard] = (),
        session_listeners: Sequence[SessionListener] = (),
        notifier: SecurityNotifier | None = None,
    ) -> None:
        """Wire the optional parts of auth/ (called once by the composition root)."""
        self.api_tokens = api_tokens or self.api_tokens
        self.totp = totp or self.totp
        self.webauthn = webauthn or self.webauthn
        self.lockdown = lockdown or self.lockdown
        self.account = account or self.account
        self._login_guards.extend(login_guards)
        self._session_listeners.extend(session_listeners)
        self._notifier = notifier or self._notifier

    # ---------------------------------------------------------------- registration, login

    async def register(self, cmd: RegisterRequest, ctx: ClientContext) -> AuthResponse:
        await self._limits.hit(
            "register", ctx.ip or "-", limit=self.config.register_per_ip_per_hour, window=3600
        )
        user = await self.create_user(cmd.username, cmd.email, cmd.password)
        await self.audit.record(
            "account.registered", user_id=user.id, ip=ctx.ip, user_agent=ctx.user_agent
        )
        response = await self.start_session(user, auth_method="password", mfa=False, ctx=ctx)
        if self.account is not None:
            await self.account.send_verification(user)
        return response

    async def create_user(
        self, username: str, email: str, password: str, *, roles: Sequence[str] = ()
    ) -> User:
        """Validate, hash and insert a user (with every user-created hook) in one transaction."""
        username = username.strip().lower()
        email = email.strip().lower()
        self._check_username(username)
        check_password_policy(
            password, min_length=self.config.password_min_length, username=username
        )
        user = User(
            username=username,
            email=email,
            password_hash=await self.passwords.hash(password),
            roles=sorted(set(roles)),
        )

        async def _insert(session: AsyncClientSession) -> None:
            await user.insert(session=session)
            for hook in self._user_created_hooks:
                await hook(user, session)

        try:
            await run_in_transaction(self._mongo, _insert)
        except DuplicateKeyError as exc:
            user.id = None
            raise Conflict(
                "An account with this username or e-mail address already exists.",
                code="ACCOUNT_EXISTS",
            ) from exc
        return user

    @staticmethod
    def _check_username(username: str) -> None:
        if not _USERNAME_RE.match(username):
            raise Unprocessable(
                "The username is not valid.",
                details=[{"field": "username", "message": "3-50 characters of a-z 0-9 _ -"}],
            )
        if username.startswith(RESERVED_PREFIXES):
            raise Unprocessable(
                "This username is reserved.",
                code="USERNAME_RESERVED",
                details=[{"field": "username", "message": "uses a reserved prefix"}],
            )

    async def find_user_by_login(self, login: str) -> User | None:
        login = login.strip().lower()
        field = User.email if "@" in login else User.username
        return await User.find_one(field == login)

    async def login(self, cmd: LoginRequest, ctx: ClientContext) -> AuthResponse:
        await self._limits.hit(
            "login", ctx.ip or "-", limit=self.config.auth_per_ip_per_minute, window=60
        )
        user = await self.verify_credentials(cmd.login, cmd.password, ctx=ctx)
        mfa = await self._second_factor(user, cmd.totp_code, cmd.backup_code, ctx)
        return await self.complete_login(user, auth_method="password", mfa=mfa, ctx=ctx)

    async def _second_factor(
        self, user: User, totp_code: str | None, backup_code: str | None, ctx: ClientContext
    ) -> bool:
        """True when a second factor was checked; 401 when one is due and missing or wrong."""
        if self.totp is None:
            return False
        try:
            return await self.totp.verify_login(user, totp_code, backup_code)
        except Unauthorized as exc:
            await self.audit.record(
                "login.mfa_required" if exc.code == "TOTP_REQUIRED" else "login.failed",
                user_id=user.id,
                ip=ctx.ip,
                user_agent=ctx.user_agent,
                data={"reason": exc.code},
            )
            raise

    async def complete_login(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        """Every factor passed: apply the login guards (lockdown), open a session, audit it."""
        for guard in self._login_guards:
            await guard.check_login(user, auth_method, ctx)
        response = await self.start_session(user, auth_method=auth_method, mfa=mfa, ctx=ctx)
        await self.audit.record(
            "login.succeeded",
            user_id=user.id,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            auth_method=auth_method,
            data={"mfa": mfa},
        )
        return response

    async def verify_credentials(
        self, login: str, password: str, *, ctx: ClientContext | None = None
    ) -> User:
        """The user for a correct login and password, else 401 (same answer and cost for all)."""
        subject = login.strip().lower()
        await self._throttle.check(subject)
        user = await self.find_user_by_login(subject)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            await self._throttle.failure(subject)
            await self.audit.record(
                "login.failed",
                user_id=user.id if user else None,
                ip=ctx.ip if ctx else None,
                user_agent=ctx.user_agent if ctx else None,
                data={"reason": "INVALID_CREDENTIALS", "login": subject[:254]},
            )
            raise Unauthorized(_INVALID_LOGIN, code="INVALID_CREDENTIALS")
        await self._throttle.success(subject)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            await User.get_pymongo_collection().update_one(
                {"_id": user.id}, {"$set": {"password_hash": user.password_hash}}
            )
        return user

    # ---------------------------------------------------------------- sessions and tokens

    async def start_session(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        secret = new_refresh_secret()
        now = utcnow()
        session = AuthSession(
            user_id=user.id,  # type: ignore[arg-type]
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
        await self._mark_session_live(str(session.id))
        for listener in self._session_listeners:
            await listener.on_session_started(user, session, ctx)
        return self._auth_response(user, session, secret)

    async def reauthenticate(
        self, actor: Actor, cmd: ReauthRequest, ctx: ClientContext
    ) -> AuthResponse:
        """Step-up: check the password (and 2FA) again; the session gets a new refresh token
        and a fresh `auth_time`, so the next ≤ 5 minutes allow sensitive changes."""
        if actor.session_id is None or actor.auth_method == "api_token":
            raise Unauthorized("Log in to confirm it is you.", code="SESSION_REQUIRED")
        user = await self.get_user(actor)
        await self.verify_credentials(user.username, cmd.password, ctx=ctx)
        mfa = await self._second_factor(user, cmd.totp_code, cmd.backup_code, ctx)
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
                        "$slice": -_KEEP_PREVIOUS_HASHES,
                    }
                },
                "$inc": {"generation": 1},
            },
        )
        session.auth_time = now
        session.mfa = mfa or session.mfa
        await self.audit.record("session.reauthenticated", actor=actor, data={"mfa": mfa})
        return self._auth_response(user, session, secret)

    def _auth_response(self, user: User, session: AuthSession, secret: str) -> AuthResponse:
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
            await self._revoke_reused(session)
        if not constant_time_equal(presented, session.refresh_hash):
            raise Unauthorized("The refresh token is not valid.", code="INVALID_REFRESH_TOKEN")

        new_secret = new_refresh_secret()
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
                    "previous_hashes": {"$each": [presented], "$slice": -_KEEP_PREVIOUS_HASHES}
                },
                "$inc": {"generation": 1},
            },
        )
        if updated is None:
            # Someone rotated this very token a moment ago: it is being used twice.
            fresh = await AuthSession.get(session.id)
            if fresh is not None:
                await self._revoke_reused(fresh)
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        user = await User.get(session.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        session.refresh_hash = sha256_hex(new_secret)
        await self._mark_session_live(str(session.id))
        return self._auth_response(user, session, new_secret)

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

    async def authenticate(self, token: str, ctx: ClientContext) -> Actor:
        """The `Actor` for a bearer access token (checked against session revocation) or for
        a permanent API token (`sbp_…`, with its scopes)."""
        if token.startswith("sbp_") and self.api_tokens is not None:
            return await self.api_tokens.authenticate(token, ip=ctx.ip, user_agent=ctx.user_agent)
        claims = decode_access_token(
            token, secret=self.config.secret_key, issuer=self.config.jwt_issuer
        )
        if not await self.session_is_live(claims.session_id):
            raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
        return Actor(
            user_id=ObjectId(claims.user_id),
            username=claims.username,
            roles=frozenset(claims.roles),
            auth_method=claims.auth_method,  # type: ignore[arg-type]
            channel="http",
            session_id=claims.session_id,
            client_ip=ctx.ip,
            user_agent=ctx.user_agent,
            mfa=claims.mfa,
            auth_time=claims.auth_time,
        )

    async def session_is_live(self, session_id: str) -> bool:
        """Redis answers for recent sessions; the database is asked when Redis does not know."""
        live, revoked = await self._redis.mget(
            f"auth:sess:{session_id}", f"auth:revoked:{session_id}"
        )
        if revoked is not None:
            return False
        if live is not None:
            return True
        if not ObjectId.is_valid(session_id):
            return False
        session = await AuthSession.get(PydanticObjectId(session_id))
        if session is None or not session.is_active:
            return False
        await self._mark_session_live(session_id)
        return True

    async def _mark_session_live(self, session_id: str) -> None:
        await self._redis.set(f"auth:sess:{session_id}", "1", ex=self.config.access_token_ttl)

    async def _revoke(
        self, session_ids: Sequence[ObjectId], user_id: ObjectId, *, reason: str
    ) -> list[str]:
        if not session_ids:
            return []
        now = utcnow()
        await AuthSession.get_pymongo_collection().update_many(
            {"_id": {"$in": list(session_ids)}, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )
        ids = [str(sid) for sid in session_ids]
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.delete(f"auth:sess:{sid}")
                pipe.set(f"auth:revoked:{sid}", reason, ex=self.config.access_token_ttl + 60)
            await pipe.execute()
        await self._bus.publish(
            user_channel(user_id),
            "session.revoked",
            SessionRevokedEvent(session_ids=ids, reason=reason),
        )
        return ids

    async def logout(self, actor: Actor) -> None:
        if actor.session_id:
            await self._revoke([ObjectId(actor.session_id)], actor.user_id, reason="logout")
            await self.audit.record("logout", actor=actor)

    async def list_sessions(self, actor: Actor) -> list[SessionView]:
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

    # ---------------------------------------------------------------- the account itself

    async def get_user(self, actor: Actor) -> User:
        user = await User.get(actor.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The account no longer exists.", code="SESSION_REVOKED")
        return user

    async def me(self, actor: Actor) -> UserView:
        return user_view(await self.get_user(actor))

    async def change_password(
        self, actor: Actor, cmd: PasswordChangeRequest, ctx: ClientContext | None = None
    ) -> None:
        require_recent_auth(actor)
        user = await self.get_user(actor)
        if not await self.passwords.verify(user.password_hash, cmd.current_password):
            await self.audit.record(
                "password.change_failed", actor=actor, data={"reason": "WRONG_PASSWORD"}
            )
            raise BadRequest("The current password is incorrect.", code="WRONG_PASSWORD")
        check_password_policy(
            cmd.new_password, min_length=self.config.password_min_length, username=user.username
        )
        now = utcnow()
        new_hash = await self.passwords.hash(cmd.new_password)
        await User.get_pymongo_collection().update_one(
            {"_id": user.id},
            {"$set": {"password_hash": new_hash, "password_changed_at": now, "updated_at": now}},
        )
        await self.revoke_all_sessions(
            user.id,  # type: ignore[arg-type]
            except_session=actor.session_id,
            reason="password_changed",
        )
        await self.audit.record("password.changed", actor=actor)
        if self._notifier is not None:
            await self._notifier.password_changed(
                user,
                "changed",
                ctx or ClientContext(ip=actor.client_ip, user_agent=actor.user_agent),
            )

    async def set_password(self, user: User, new_password: str) -> None:
        """A new password without the old one (reset by e-mail): policy, hash, store."""
        check_password_policy(
            new_password, min_length=self.config.password_min_length, username=user.username
        )
        now = utcnow()
        new_hash = await self.passwords.hash(new_password)
        await User.get_pymongo_collection().update_one(
            {"_id": user.id},
            {"$set": {"password_hash": new_hash, "password_changed_at": now, "updated_at": now}},
        )

    async def create_admin(self, username: str, email: str, password: str) -> User:
        """Bootstrap an administrator (CLI only: roles are never taken from a request)."""
        return await self.create_user(username, email, password, roles=["admin"])

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
