"""`/api/v1/auth/totp/*` (thin; rules in `TotpManager`)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from auth.limits import auth_rate_limit
from auth.scopes import require_full_session
from auth.totp.manager import TotpManager
from auth.totp.schemas import (
    BackupCodesRequest,
    BackupCodesView,
    TotpConfirmRequest,
    TotpDisableRequest,
    TotpSetupView,
    TotpStatusView,
)
from server.core.actor import Actor


class TotpController(Controller):
    path = "/api/v1/auth/totp"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @get("/", summary="Whether 2FA is on")
    async def status(self, actor: Actor, totp: TotpManager) -> TotpStatusView:
        require_full_session(actor)
        return await totp.status(actor)

    @post("/setup", status_code=HTTP_200_OK, summary="Start TOTP enrolment (step-up)")
    async def setup(self, actor: Actor, totp: TotpManager) -> TotpSetupView:
        return await totp.setup(actor)

    @post("/confirm", status_code=HTTP_200_OK, summary="Turn 2FA on; returns backup codes once")
    async def confirm(
        self, data: TotpConfirmRequest, actor: Actor, totp: TotpManager
    ) -> BackupCodesView:
        return await totp.confirm(actor, data)

    @post("/disable", status_code=HTTP_204_NO_CONTENT, summary="Turn 2FA off (code or password)")
    async def disable(self, data: TotpDisableRequest, actor: Actor, totp: TotpManager) -> None:
        await totp.disable(actor, data)

    @post("/backup-codes", status_code=HTTP_200_OK, summary="New backup codes (old ones die)")
    async def backup_codes(
        self, data: BackupCodesRequest, actor: Actor, totp: TotpManager
    ) -> BackupCodesView:
        return await totp.regenerate_backup_codes(actor, data)
