"""E-mail flow endpoints under `/api/v1/auth` (thin; rules in `AccountManager`)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from auth.account.manager import AccountManager
from auth.account.schemas import (
    AcceptedView,
    ChangeEmailRequest,
    EmailTokenRequest,
    EmailVerifiedView,
    ForgotPasswordRequest,
    ResetPasswordRequest,
)
from auth.limits import auth_rate_limit
from auth.manager import ClientContext
from auth.scopes import require_full_session
from server.core.actor import Actor


class AccountController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @post("/email/verify", status_code=HTTP_200_OK, summary="Confirm an address (link token)")
    async def verify_email(
        self, data: EmailTokenRequest, account: AccountManager
    ) -> EmailVerifiedView:
        return await account.confirm_email(data)

    @post("/email/resend-verification", status_code=HTTP_202_ACCEPTED)
    async def resend_verification(self, actor: Actor, account: AccountManager) -> AcceptedView:
        require_full_session(actor)
        await account.resend_verification(actor)
        return AcceptedView()

    @post("/email/change", status_code=HTTP_202_ACCEPTED, summary="Change the address (step-up)")
    async def change_email(
        self, data: ChangeEmailRequest, actor: Actor, account: AccountManager
    ) -> AcceptedView:
        await account.change_email(actor, data)
        return AcceptedView()

    @post("/password/forgot", status_code=HTTP_202_ACCEPTED, summary="Mail a reset link")
    async def forgot_password(
        self, data: ForgotPasswordRequest, account: AccountManager, client: ClientContext
    ) -> AcceptedView:
        await account.forgot_password(data, client)
        return AcceptedView()

    @post("/password/reset", status_code=HTTP_204_NO_CONTENT, summary="Set a new password")
    async def reset_password(
        self, data: ResetPasswordRequest, account: AccountManager, client: ClientContext
    ) -> None:
        await account.reset_password(data, client)
