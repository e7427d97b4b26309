"""E-mail flows: verify the address, reset a forgotten password, change the address,
and alert on sign-ins from a new device.

Every link carries a single-use token (`OneTimeTokens`: stored as SHA-256, expiring).
`forgot_password` answers the same whether or not the address exists.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC
from typing import TYPE_CHECKING

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from auth.account.documents import KnownDevice
from auth.account.schemas import (
    ChangeEmailRequest,
    EmailTokenRequest,
    EmailVerifiedView,
    ForgotPasswordRequest,
    ResetPasswordRequest,
)
from auth.documents import AuthSession, User
from auth.email.outbox import Outbox
from auth.onetime import OneTimeToken, OneTimeTokens
from auth.passwords import check_password_policy
from auth.stepup import require_recent_auth
from auth.tokens import sha256_hex
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import BadRequest, Conflict, RateLimited, valid_email
from server.core.ids import stored_id
from server.core.wire import validate

if TYPE_CHECKING:
    from auth.manager import AuthManager, ClientContext

log = logging.getLogger("auth.account")

VERIFY_TTL = 48 * 3600
RESET_TTL = 30 * 60
EMAIL_CHANGE_TTL = 60 * 60


def _when() -> str:
    return utcnow().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class AccountManager:
    def __init__(self, auth: AuthManager, outbox: Outbox, tokens: OneTimeTokens) -> None:
        self._auth = auth
        self._outbox = outbox
        self._tokens = tokens

    # ------------------------------------------------------------------ verification

    async def send_verification(self, user: User) -> None:
        if user.email_verified:
            return
        token = await self._tokens.issue(
            "verify_email",
            user.id,
            VERIFY_TTL,
            data={"email": user.email},
        )
        await self._outbox.enqueue(
            "verify_email",
            user.email,
            {
                "username": user.username,
                "link": self._outbox.link("/verify-email", token),
                "hours": VERIFY_TTL // 3600,
            },
            user_id=user.id,
        )

    async def resend_verification(self, actor: Actor) -> None:
        await self._auth.limits.hit("verify-resend", str(actor.user_id), limit=3, window=3600)
        user = await self._auth.get_user(actor)
        if user.email_verified:
            raise Conflict("The address is already confirmed.", code="EMAIL_ALREADY_VERIFIED")
        await self.send_verification(user)

    async def confirm_email(self, cmd: EmailTokenRequest) -> EmailVerifiedView:
        """Confirm the address (after sign-up) or a new address (after a change)."""
        cmd = validate(cmd)
        token = await self._tokens.consume(("verify_email", "email_change"), cmd.token)
        user = await User.get(token.user_id)
        if user is None or not user.is_active:
            raise BadRequest("This link is not valid any more.", code="INVALID_LINK")
        address = str(token.data.get("email", ""))
        collection = User.get_pymongo_collection()
        if token.purpose == "verify_email":
            if address != user.email:
                raise BadRequest("This link is for an older address.", code="INVALID_LINK")
            await collection.update_one(
                {"_id": user.id, "email": address},
                {"$set": {"email_verified": True, "updated_at": utcnow()}},
            )
            await self._auth.audit.record("email.verified", user_id=user.id)
            return EmailVerifiedView(email=address, email_verified=True)
        old = user.email
        try:
            await collection.update_one(
                {"_id": user.id},
                {"$set": {"email": address, "email_verified": True, "updated_at": utcnow()}},
            )
        except DuplicateKeyError as exc:
            raise Conflict(
                "An account with this e-mail address already exists.", code="ACCOUNT_EXISTS"
            ) from exc
        await self._auth.audit.record("email.changed", user_id=user.id, data={"from": old})
        await self._outbox.enqueue(
            "email_changed",
            old,
            {"username": user.username, "new_email": address, "when": _when()},
            user_id=user.id,
        )
        return EmailVerifiedView(email=address, email_verified=True)

    async def change_email(self, actor: Actor, cmd: ChangeEmailRequest) -> None:
        """Step-up; the new address gets a confirmation link and takes over only then."""
        cmd = validate(cmd)
        require_recent_auth(actor)
        user = await self._auth.get_user(actor)
        new_email = valid_email(cmd.new_email, field="newEmail")
        if new_email == user.email:
            raise Conflict("That is already your address.", code="EMAIL_UNCHANGED")
        if await User.find_one(User.email == new_email) is not None:
            raise Conflict(
                "An account with this e-mail address already exists.", code="ACCOUNT_EXISTS"
            )
        token = await self._tokens.issue(
            "email_change",
            user.id,
            EMAIL_CHANGE_TTL,
            data={"email": new_email},
        )
        await self._outbox.enqueue(
            "verify_email",
            new_email,
            {
                "username": user.username,
                "link": self._outbox.link("/verify-email", token),
                "hours": EMAIL_CHANGE_TTL // 3600,
            },
            user_id=user.id,
        )
        await self._auth.audit.record("email.change_requested", actor=actor, data={"to": new_email})

    # ------------------------------------------------------------------ password reset

    async def forgot_password(self, cmd: ForgotPasswordRequest, ctx: ClientContext) -> None:
        """Mail a reset link if the address belongs to an account; the answer never tells."""
        cmd = validate(cmd)
        email = cmd.email.strip().lower()
        try:
            await self._auth.limits.hit("reset-request", sha256_hex(email), limit=3, window=3600)
        except RateLimited:
            return  # Silently: a 429 here would confirm that someone asked for this address.
        user = await User.find_one(User.email == email)
        if user is None or not user.is_active:
            return
        token = await self._tokens.issue("password_reset", user.id, RESET_TTL)
        await self._outbox.enqueue(
            "password_reset",
            user.email,
            {"username": user.username, "link": self._outbox.link("/reset-password", token)},
            user_id=user.id,
        )
        await self._auth.audit.record(
            "password.reset_requested", user_id=user.id, ip=ctx.ip, user_agent=ctx.user_agent
        )

    async def reset_password(self, cmd: ResetPasswordRequest, ctx: ClientContext) -> None:
        """New password from a reset link: checked, then the link is used up, every session
        ends, and the user is told. With 2FA on, a code is needed too."""
        cmd = validate(cmd)
        pending = await OneTimeToken.find_one(
            OneTimeToken.token_hash == sha256_hex(cmd.token),
            OneTimeToken.purpose == "password_reset",
            OneTimeToken.used_at == None,  # noqa: E711
            OneTimeToken.expires_at > utcnow(),
        )
        if pending is None:
            raise BadRequest(
                "This link is not valid any more. Request a new one.", code="INVALID_LINK"
            )
        user = await User.get(PydanticObjectId(pending.user_id))
        if user is None or not user.is_active:
            raise BadRequest("This link is not valid any more.", code="INVALID_LINK")
        check_password_policy(
            cmd.new_password,
            min_length=self._auth.config.password_min_length,
            username=user.username,
        )
        if self._auth.totp is not None:
            await self._auth.totp.verify_login(user, cmd.totp_code, cmd.backup_code)
        await self._tokens.consume("password_reset", cmd.token)
        await self._auth.set_password(user, cmd.new_password)
        await self._auth.sessions.revoke_all_sessions(stored_id(user.id), reason="password_reset")
        await self._auth.audit.record(
            "password.reset", user_id=user.id, ip=ctx.ip, user_agent=ctx.user_agent
        )
        await self.password_changed(user, "reset by e-mail link", ctx)

    # ------------------------------------------------------------------ notifications

    async def password_changed(self, user: User, how: str, ctx: ClientContext) -> None:
        await self._outbox.enqueue(
            "password_changed",
            user.email,
            {"username": user.username, "how": how, "when": _when(), "ip": ctx.ip or "unknown"},
            user_id=user.id,
        )

    async def on_session_started(
        self, user: User, session: AuthSession, ctx: ClientContext
    ) -> None:
        """Remember the device; e-mail an alert when a known account signs in from a new one."""
        ua = (ctx.user_agent or "")[:300]
        fingerprint = hashlib.sha256(f"{user.id}|{ctx.ip}|{ua}".encode()).hexdigest()[:40]
        collection = KnownDevice.get_pymongo_collection()
        now = utcnow()
        had_any = await collection.count_documents({"user_id": user.id}, limit=1) > 0
        result = await collection.update_one(
            {"user_id": user.id, "fingerprint": fingerprint},
            {
                "$set": {"last_seen": now},
                "$setOnInsert": {"ip": ctx.ip, "user_agent": ua or None, "first_seen": now},
            },
            upsert=True,
        )
        if result.upserted_id is None or not had_any:
            return
        await self._auth.audit.record(
            "login.new_device",
            user_id=user.id,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            session_id=str(session.id),
        )
        await self._outbox.enqueue(
            "new_login",
            user.email,
            {
                "username": user.username,
                "when": _when(),
                "ip": ctx.ip or "unknown",
                "device": ua or "unknown",
                "method": session.auth_method,
            },
            user_id=user.id,
        )
