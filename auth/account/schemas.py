"""Wire types for the e-mail flows."""

from __future__ import annotations

from typing import Annotated

import msgspec

from auth.schemas import BackupCodeIn, EmailIn, PasswordIn, TotpCodeIn
from server.core.wire import Input, Output

TokenIn = Annotated[str, msgspec.Meta(min_length=10, max_length=200)]


class EmailTokenRequest(Input):
    token: TokenIn


class EmailVerifiedView(Output):
    email: str
    email_verified: bool


class ForgotPasswordRequest(Input):
    email: EmailIn


class ResetPasswordRequest(Input):
    token: TokenIn
    new_password: PasswordIn
    # Required when 2FA is on: a reset never bypasses the second factor.
    totp_code: TotpCodeIn | None = None
    backup_code: BackupCodeIn | None = None


class ChangeEmailRequest(Input):
    new_email: EmailIn


class AcceptedView(Output):
    status: str = "accepted"
