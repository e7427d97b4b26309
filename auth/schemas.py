"""Wire types for accounts and sessions (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from server.core.wire import Input, Output

UsernameIn = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=50,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="3-50 characters of a-z, 0-9, _ and -; stored lowercase",
    ),
]
EmailIn = Annotated[
    str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
PasswordIn = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
LoginIn = Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
RefreshTokenIn = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TotpCodeIn = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="6 digits")]
BackupCodeIn = Annotated[str, msgspec.Meta(min_length=8, max_length=40)]


class RegisterRequest(Input):
    username: UsernameIn
    email: EmailIn
    password: PasswordIn
    # Roles are assigned by the server only: these are accepted and ignored.
    role: Any = msgspec.UNSET
    roles: Any = msgspec.UNSET


class LoginRequest(Input):
    login: LoginIn
    password: PasswordIn
    # With 2FA on, one of these is required (else 401 TOTP_REQUIRED).
    totp_code: TotpCodeIn | None = None
    backup_code: BackupCodeIn | None = None


class ReauthRequest(Input):
    """Step-up: prove it is still you (password, plus a second factor when 2FA is on)."""

    password: PasswordIn
    totp_code: TotpCodeIn | None = None
    backup_code: BackupCodeIn | None = None


class RefreshRequest(Input):
    refresh_token: RefreshTokenIn


class PasswordChangeRequest(Input):
    current_password: PasswordIn
    new_password: PasswordIn


class RevokedSessionsView(Output):
    revoked: int


class UserView(Output):
    id: str
    username: str
    email: str
    email_verified: bool
    roles: list[str]
    created_at: datetime


class AuthResponse(Output):
    user: UserView
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class SessionView(Output):
    id: str
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class SessionRevokedEvent(Output):
    """`session.revoked` on `user:{id}`: these sessions no longer authenticate anything."""

    session_ids: list[str]
    reason: str


class AuthSessionPage(Output):
    """A page of the user's sessions (`nextCursor` null on the last)."""

    items: list[SessionView]
    next_cursor: str | None = None
