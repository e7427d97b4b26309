"""`/verify-email`, `/reset-password`, `/lockdown/{confirm,allow,trust}`: the e-mail links.

GET shows a form and changes nothing (mail scanners prefetch links); the form's POST, which
carries the one-time token, completes the action through the same manager method as the
JSON API. Outcomes are pages with a clear sentence, never JSON; not in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_200_OK

from auth.account.manager import AccountManager
from auth.account.schemas import EmailTokenRequest, ResetPasswordRequest
from auth.limits import auth_rate_limit
from auth.lockdown.manager import LockdownManager
from auth.lockdown.schemas import LockdownTokenRequest
from auth.manager import ClientContext
from auth.pages.html import Field, form, page, paragraph
from server.core.errors import DomainError
from server.core.wire import convert

MAX_TOKEN = 200
# Failures of a reset that leave the link usable: the form comes back with the reason.
_RESET_KEYS = frozenset({"token", "newPassword", "totpCode", "backupCode"})
_ASK_AGAIN = frozenset({"TOTP_REQUIRED", "INVALID_TOTP", "TOTP_REPLAYED"})
_MISSING = "This link is incomplete. Open the whole link from the e-mail, or request a new one."
_RESET_FIELDS = (
    Field("newPassword", "New password", "password", "new-password", hint="12 characters or more."),
    Field("repeatPassword", "Repeat the new password", "password", "new-password"),
    Field(
        "totpCode",
        "Authenticator code (only if two-factor sign-in is on)",
        autocomplete="one-time-code",
        required=False,
        inputmode="numeric",
    ),
    Field("backupCode", "Or a backup code", required=False),
)


def _token(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if 0 < len(value) <= MAX_TOKEN else None


def _failed(title: str, exc: DomainError) -> Response[str]:
    return page(title, paragraph(exc.message, "error"), status_code=exc.status_code)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    data = await request.form()
    return {k: str(v).strip() for k, v in data.items() if isinstance(v, str) and v.strip()}


async def _lockdown_step(
    request: Request[Any, Any, Any],
    title: str,
    step: Callable[[LockdownTokenRequest], Awaitable[Any]],
    done: str,
) -> Response[str]:
    """One lockdown link's POST: the token from the form, the manager step, a sentence."""
    fields = await _form(request)
    if _token(fields.get("token")) is None:
        return page(title, paragraph(_MISSING, "error"), status_code=400)
    try:
        await step(convert({"token": fields["token"]}, LockdownTokenRequest))
    except DomainError as exc:
        return _failed(title, exc)
    return page(title, paragraph(done, "ok"))


def _ask(title: str, intro: str, button: str, token: str | None) -> Response[str]:
    if (token := _token(token)) is None:
        return page(title, paragraph(_MISSING, "error"), status_code=400)
    return page(title, paragraph(intro) + form(token, button))


class EmailLinkPages(Controller):
    path = "/"
    include_in_schema = False
    guards = [auth_rate_limit]

    @get("/verify-email", sync_to_thread=False)
    def verify_email_form(self, token: str | None = None) -> Response[str]:
        return _ask(
            "Confirm your e-mail address",
            "Confirm that this address belongs to you.",
            "Confirm my address",
            token,
        )

    @post("/verify-email", status_code=HTTP_200_OK)
    async def verify_email(
        self, request: Request[Any, Any, Any], account: AccountManager
    ) -> Response[str]:
        title = "Confirm your e-mail address"
        fields = await _form(request)
        if _token(fields.get("token")) is None:
            return page(title, paragraph(_MISSING, "error"), status_code=400)
        try:
            done = await account.confirm_email(
                convert({"token": fields["token"]}, EmailTokenRequest)
            )
        except DomainError as exc:
            return _failed(title, exc)
        return page(title, paragraph(f"Your address {done.email} is confirmed.", "ok"))

    @get("/reset-password", sync_to_thread=False)
    def reset_password_form(self, token: str | None = None) -> Response[str]:
        title = "Choose a new password"
        if (token := _token(token)) is None:
            return page(title, paragraph(_MISSING, "error"), status_code=400)
        intro = paragraph("Every session of your account is signed out afterwards.")
        return page(title, intro + form(token, "Set the new password", _RESET_FIELDS))

    @post("/reset-password", status_code=HTTP_200_OK)
    async def reset_password(
        self, request: Request[Any, Any, Any], account: AccountManager, client: ClientContext
    ) -> Response[str]:
        title = "Choose a new password"
        fields = await _form(request)
        if (token := _token(fields.get("token"))) is None:
            return page(title, paragraph(_MISSING, "error"), status_code=400)
        if fields.get("newPassword") != fields.pop("repeatPassword", None):
            problem = paragraph("The two passwords differ. Type the same one twice.", "error")
            return page(title, problem + form(token, "Set the new password", _RESET_FIELDS), 422)
        try:
            known = {k: v for k, v in fields.items() if k in _RESET_KEYS}
            await account.reset_password(convert(known, ResetPasswordRequest), client)
        except DomainError as exc:
            if exc.status_code != 422 and exc.code not in _ASK_AGAIN:
                return _failed(title, exc)
            # The link still works: say what is wrong and ask again.
            problem = paragraph(_reason(exc), "error")
            return page(
                title,
                problem + form(token, "Set the new password", _RESET_FIELDS),
                exc.status_code,
            )
        done = "Your password is changed and every session signed out. Sign in with it now."
        return page(title, paragraph(done, "ok"))

    @get("/lockdown/confirm", sync_to_thread=False)
    def lockdown_confirm_form(self, token: str | None = None) -> Response[str]:
        return _ask(
            "Confirm the lockdown change",
            "Apply the lockdown change you asked for.",
            "Apply the change",
            token,
        )

    @post("/lockdown/confirm", status_code=HTTP_200_OK)
    async def lockdown_confirm(
        self, request: Request[Any, Any, Any], lockdown: LockdownManager
    ) -> Response[str]:
        title = "Confirm the lockdown change"
        fields = await _form(request)
        if _token(fields.get("token")) is None:
            return page(title, paragraph(_MISSING, "error"), status_code=400)
        try:
            view = await lockdown.confirm(convert({"token": fields["token"]}, LockdownTokenRequest))
        except DomainError as exc:
            return _failed(title, exc)
        state = "on" if view.enabled else "off"
        return page(title, paragraph(f"Done: lockdown is now {state}.", "ok"))

    @get("/lockdown/allow", sync_to_thread=False)
    def lockdown_allow_form(self, token: str | None = None) -> Response[str]:
        return _ask(
            "Allow a blocked sign-in",
            "Lockdown blocked a sign-in. Allow it once if it was you.",
            "Allow it once",
            token,
        )

    @post("/lockdown/allow", status_code=HTTP_200_OK)
    async def lockdown_allow(
        self, request: Request[Any, Any, Any], lockdown: LockdownManager
    ) -> Response[str]:
        return await _lockdown_step(
            request,
            "Allow a blocked sign-in",
            lockdown.allow_once,
            "Allowed once: sign in again from that device now.",
        )

    @get("/lockdown/trust", sync_to_thread=False)
    def lockdown_trust_form(self, token: str | None = None) -> Response[str]:
        return _ask(
            "Trust a blocked device",
            "Lockdown blocked a sign-in. Trust that IP address and device from now on.",
            "Trust it",
            token,
        )

    @post("/lockdown/trust", status_code=HTTP_200_OK)
    async def lockdown_trust(
        self, request: Request[Any, Any, Any], lockdown: LockdownManager
    ) -> Response[str]:
        return await _lockdown_step(
            request,
            "Trust a blocked device",
            lockdown.trust,
            "Trusted: that IP address and device can sign in from now on.",
        )


def _reason(exc: DomainError) -> str:
    """The manager's message plus what the first detail says is wrong, if anything."""
    for detail in exc.details:
        if isinstance(detail, dict) and detail.get("message"):
            return f"{exc.message} {detail['message']}."
    return exc.message
