"""Wire types for TOTP."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.core.wire import Input, Output

TotpCodeIn = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="6 digits")]
BackupCodeIn = Annotated[str, msgspec.Meta(min_length=8, max_length=40)]
PasswordIn = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TotpSetupView(Output):
    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpConfirmRequest(Input):
    code: TotpCodeIn


class TotpDisableRequest(Input):
    """Either a current code or the account password."""

    code: TotpCodeIn | None = None
    password: PasswordIn | None = None


class BackupCodesRequest(Input):
    code: TotpCodeIn


class BackupCodesView(Output):
    backup_codes: list[str]


class TotpStatusView(Output):
    enabled: bool
    backup_codes_left: int
