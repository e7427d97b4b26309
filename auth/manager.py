"""Accounts and sessions: the only write path for users and their logins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from auth.account_throttle import AccountThrottle
from auth.audit.manager import AuditLog
from auth.config import AuthConfig
from auth.context import (
    ClientContext,
    EmailVerifier,
    LoginGuard,
    SecurityNotifier,
    SessionListener,
)
from auth.credentials import Credentials, check_username
from auth.documents import User
from auth.liveness import HotSessions
from auth.passwords import Passwords, check_password_policy
from auth.ratelimit import BatchedCounts, LoginThrottle, RateLimiter
from auth.schemas import (
    AuthResponse,
    LoginRequest,
    PasswordChangeRequest,
    ReauthRequest,
    RegisterRequest,
    UserView,
)
from auth.session_start import SessionStarter
from auth.sessions import Prefetched, Sessions, user_view
from auth.stepup import require_recent_auth
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.errors import (
    BadRequest,
    Conflict,
    Unauthorized,
    valid_email,
)
from server.core.ids import stored_id
from server.core.wire import validate

if TYPE_CHECKING:
    from auth.api_tokens.manager import ApiTokenManager
    from auth.totp.manager import TotpManager

__all__ = ["AuthManager", "ClientContext", "user_view"]

log = logging.getLogger("auth.manager")


# Called inside the registration transaction, e.g. to open the user's wallet account.
UserCreatedHook = Callable[[User, AsyncClientSession], Awaitable[None]]


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
        self.redis = redis
        self._bus = bus
        self.config = config
        self._user_created_hooks = list(user_created_hooks)
        self.audit = audit or AuditLog()
        # Collaborators that need this manager themselves, so the composition root wires
        # them after construction (`attach`). Routes never reach them through here: each
        # controller receives its own manager (server/compose/providers.py).
        self.api_tokens: ApiTokenManager | None = None
        self.totp: TotpManager | None = None
        self._verifier: EmailVerifier | None = None
        self._notifier: SecurityNotifier | None = None
        self.passwords = Passwords(
            time_cost=config.argon2_time_cost,
            memory_kib=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
        )
        self._limits = RateLimiter(redis)
        self.limits = self._limits
        self.limit_counts = BatchedCounts(config.rate_limit_batch)
        self.hot_sessions = HotSessions(config.hot_cache_seconds)
        # Refresh rotation, bearer authentication, revocation: a collaborator of its own.
        self.sessions = Sessions(
            mongo=mongo,
            redis=redis,
            bus=bus,
            config=config,
            audit=self.audit,
            limits=self._limits,
            hot_sessions=self.hot_sessions,
        )
        throttle = AccountThrottle(
            redis,
            LoginThrottle(
                redis,
                max_failures=config.login_max_failures,
                window=config.login_failure_window,
                max_delay=config.login_max_delay,
            ),
            budget=config.login_account_budget,
            budget_window=config.login_account_budget_window,
        )
        self.credentials = Credentials(
            passwords=self.passwords, throttle=throttle, audit=self.audit
        )
        self.session_start = SessionStarter(
            config=config, audit=self.audit, sessions=self.sessions, credentials=self.credentials
        )

    async def authenticate(
        self, token: str, ctx: ClientContext, prefetched: Prefetched | None = None
    ) -> Actor:
        """The `Actor` for a bearer token (see `Sessions.authenticate`)."""
        return await self.sessions.authenticate(token, ctx, prefetched)

    async def session_is_live(self, session_id: str) -> bool:
        return await self.sessions.session_is_live(session_id)

    def queue_session_liveness(self, pipe: Pipeline, session_id: str) -> None:
        self.sessions.queue_session_liveness(pipe, session_id)

    def add_user_created_hook(self, hook: UserCreatedHook) -> None:
        self._user_created_hooks.append(hook)

    def attach(
        self,
        *,
        api_tokens: ApiTokenManager | None = None,
        totp: TotpManager | None = None,
        verifier: EmailVerifier | None = None,
        login_guards: Sequence[LoginGuard] = (),
        session_listeners: Sequence[SessionListener] = (),
        notifier: SecurityNotifier | None = None,
    ) -> None:
        """Wire the optional parts of auth/ (called once by the composition root)."""
        self.api_tokens = api_tokens or self.api_tokens
        self.sessions.api_tokens = self.api_tokens
        if self.api_tokens is not None:
            self.api_tokens.on_revoked = self.sessions.credentials_revoked
        self.totp = totp or self.totp
        self.credentials.totp = self.totp
        self._verifier = verifier or self._verifier
        self.session_start.login_guards.extend(login_guards)
        self.session_start.session_listeners.extend(session_listeners)
        self._notifier = notifier or self._notifier

    # ---------------------------------------------------------------- registration, login

    async def register(self, cmd: RegisterRequest, ctx: ClientContext) -> AuthResponse:
        cmd = validate(cmd)
        await self._limits.hit(
            "register", ctx.ip or "-", limit=self.config.register_per_ip_per_hour, window=3600
        )
        user = await self.create_user(cmd.username, cmd.email, cmd.password)
        await self.audit.record(
            "account.registered", user_id=user.id, ip=ctx.ip, user_agent=ctx.user_agent
        )
        response = await self.start_session(user, auth_method="password", mfa=False, ctx=ctx)
        if self._verifier is not None:
            await self._verifier.send_verification(user)
        return response

    async def create_user(
        self, username: str, email: str, password: str, *, roles: Sequence[str] = ()
    ) -> User:
        """Validate, hash and insert a user (with every user-created hook) in one transaction."""
        username = username.strip().lower()
        email = valid_email(email)
        check_username(username)
        check_password_policy(
            password, min_length=self.config.password_min_length, username=username
        )
        user = User(
            username=username,
            email=email,
            password_hash=await self.passwords.hash(password),
            roles=sorted(set(roles)),
        )

        async def _insert(tx: Tx) -> None:
            await user.insert(session=tx.session)
            for hook in self._user_created_hooks:
                await hook(user, tx.session)

        try:
            await run_in_transaction(self._mongo, _insert, publisher=self._bus)
        except DuplicateKeyError as exc:
            user.id = None
            raise Conflict(
                "An account with this username or e-mail address already exists.",
                code="ACCOUNT_EXISTS",
            ) from exc
        return user

    async def find_user_by_login(self, login: str) -> User | None:
        return await self.credentials.find_user_by_login(login)

    async def login(self, cmd: LoginRequest, ctx: ClientContext) -> AuthResponse:
        cmd = validate(cmd)
        await self._limits.hit(
            "login", ctx.ip or "-", limit=self.config.auth_per_ip_per_minute, window=60
        )
        user = await self.credentials.verify(cmd.login, cmd.password, ctx=ctx)
        mfa = await self.credentials.second_factor(user, cmd.totp_code, cmd.backup_code, ctx)
        return await self.complete_login(user, auth_method="password", mfa=mfa, ctx=ctx)

    async def complete_login(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        """Every factor passed: apply the login guards (lockdown), open a session, audit it."""
        return await self.session_start.complete_login(
            user, auth_method=auth_method, mfa=mfa, ctx=ctx
        )

    async def verify_credentials(
        self, login: str, password: str, *, ctx: ClientContext | None = None
    ) -> User:
        """The user for a correct login and password, else 401 (same answer and cost for all)."""
        return await self.credentials.verify(login, password, ctx=ctx)

    async def start_session(
        self, user: User, *, auth_method: str, mfa: bool, ctx: ClientContext
    ) -> AuthResponse:
        return await self.session_start.start(user, auth_method=auth_method, mfa=mfa, ctx=ctx)

    async def reauthenticate(
        self, actor: Actor, cmd: ReauthRequest, ctx: ClientContext
    ) -> AuthResponse:
        """Step-up: check the password (and 2FA) again (see `SessionStarter.reauthenticate`)."""
        cmd = validate(cmd)
        if actor.session_id is None or actor.auth_method == "api_token":
            raise Unauthorized("Log in to confirm it is you.", code="SESSION_REQUIRED")
        user = await self.get_user(actor)
        return await self.session_start.reauthenticate(actor, user, cmd, ctx)

    # ---------------------------------------------------------------- the account itself

    async def get_user(self, actor: Actor) -> User:
        user = await User.get(actor.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The account no longer exists.", code="SESSION_REVOKED")
        return user

    async def me(self, actor: Actor) -> UserView:
        """Read straight from the collection: this is the hottest authenticated read."""
        doc = await User.get_pymongo_collection().find_one(
            {"_id": actor.user_id},
            {
                "username": 1,
                "email": 1,
                "email_verified": 1,
                "roles": 1,
                "created_at": 1,
                "is_active": 1,
            },
        )
        if doc is None or not doc.get("is_active", True):
            raise Unauthorized("The account no longer exists.", code="SESSION_REVOKED")
        return UserView(
            id=str(doc["_id"]),
            username=doc["username"],
            email=doc["email"],
            email_verified=bool(doc.get("email_verified", False)),
            roles=sorted(doc.get("roles", [])),
            created_at=doc["created_at"],
        )

    async def change_password(
        self, actor: Actor, cmd: PasswordChangeRequest, ctx: ClientContext | None = None
    ) -> None:
        cmd = validate(cmd)
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
        await self.sessions.revoke_all_sessions(
            stored_id(user.id),
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
