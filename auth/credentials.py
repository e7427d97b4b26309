"""Checking who someone is: login and password (throttled, same answer and cost for every
failure), the second factor, and the username rules."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from auth.account_throttle import AccountThrottle, device_hash
from auth.audit.manager import AuditLog
from auth.context import ClientContext
from auth.documents import User
from auth.passwords import Passwords
from server.core.errors import Unauthorized, Unprocessable

if TYPE_CHECKING:
    from auth.totp.manager import TotpManager

RESERVED_PREFIXES = ("family_", "team_", "admin_", "system_", "bot_", "service_")
_USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,50}$")
_INVALID_LOGIN = "The login or password is incorrect."


def check_username(username: str) -> None:
    """422 for a malformed username or one with a reserved prefix."""
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


class Credentials:
    def __init__(self, *, passwords: Passwords, throttle: AccountThrottle, audit: AuditLog) -> None:
        self.passwords = passwords
        self._throttle = throttle
        self.audit = audit
        self.totp: TotpManager | None = None  # set by `AuthManager.attach`

    async def find_user_by_login(self, login: str) -> User | None:
        login = login.strip().lower()
        field = User.email if "@" in login else User.username
        return await User.find_one(field == login)

    async def verify(self, login: str, password: str, *, ctx: ClientContext | None = None) -> User:
        """The user for a correct login and password, else 401 (same answer and cost for all)."""
        subject = login.strip().lower()
        ip = ctx.ip if ctx else None
        device = device_hash(ip, ctx.user_agent if ctx else None)
        user = await self.find_user_by_login(subject)
        # Username and e-mail share one account key (issue 15, F5).
        account = f"u:{user.id}" if user is not None else f"l:{subject}"
        await self._throttle.check(account, ip, device)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            await self._throttle.failure(account, ip)
            await self.audit.record(
                "login.failed",
                user_id=user.id if user else None,
                ip=ctx.ip if ctx else None,
                user_agent=ctx.user_agent if ctx else None,
                data={"reason": "INVALID_CREDENTIALS", "login": subject[:254]},
            )
            raise Unauthorized(_INVALID_LOGIN, code="INVALID_CREDENTIALS")
        await self._throttle.success(account, ip, device)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            await User.get_pymongo_collection().update_one(
                {"_id": user.id}, {"$set": {"password_hash": user.password_hash}}
            )
        return user

    async def second_factor(
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
