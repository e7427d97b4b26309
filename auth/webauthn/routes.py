"""`/api/v1/auth/webauthn/*` (thin; rules in `WebAuthnManager`)."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.limits import auth_rate_limit
from auth.manager import ClientContext
from auth.schemas import AuthResponse
from auth.scopes import require_full_session
from auth.webauthn.manager import WebAuthnManager
from auth.webauthn.schemas import (
    PasskeyLoginOptionsRequest,
    PasskeyLoginVerify,
    PasskeyOptionsView,
    PasskeyRegisterVerify,
    PasskeyRename,
    PasskeyView,
)
from server.core.actor import Actor


class WebAuthnController(Controller):
    path = "/api/v1/auth/webauthn"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @post("/register/options", status_code=HTTP_200_OK, summary="Passkey creation options")
    async def register_options(self, actor: Actor, webauthn: WebAuthnManager) -> PasskeyOptionsView:
        return await webauthn.register_options(actor)

    @post("/register/verify", status_code=HTTP_201_CREATED, summary="Store a new passkey")
    async def register_verify(
        self, data: PasskeyRegisterVerify, actor: Actor, webauthn: WebAuthnManager
    ) -> PasskeyView:
        return await webauthn.register_verify(actor, data)

    @post("/login/options", status_code=HTTP_200_OK, summary="Passkey sign-in options")
    async def login_options(
        self, data: PasskeyLoginOptionsRequest, webauthn: WebAuthnManager
    ) -> PasskeyOptionsView:
        return await webauthn.login_options(data)

    @post("/login/verify", status_code=HTTP_200_OK, summary="Sign in with a passkey")
    async def login_verify(
        self, data: PasskeyLoginVerify, webauthn: WebAuthnManager, client: ClientContext
    ) -> AuthResponse:
        return await webauthn.login_verify(data, client)

    @get("/credentials", summary="My passkeys")
    async def list_credentials(self, actor: Actor, webauthn: WebAuthnManager) -> list[PasskeyView]:
        require_full_session(actor)
        return await webauthn.list(actor)

    @patch("/credentials/{passkey_id:str}", summary="Rename a passkey")
    async def rename(
        self, passkey_id: str, data: PasskeyRename, actor: Actor, webauthn: WebAuthnManager
    ) -> PasskeyView:
        require_full_session(actor)
        return await webauthn.rename(actor, passkey_id, data)

    @delete(
        "/credentials/{passkey_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a passkey (step-up)",
    )
    async def remove(self, passkey_id: str, actor: Actor, webauthn: WebAuthnManager) -> None:
        await webauthn.delete(actor, passkey_id)
