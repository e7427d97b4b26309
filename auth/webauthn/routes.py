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
    PasskeyPage,
    PasskeyRegisterVerify,
    PasskeyRename,
    PasskeyView,
)
from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice


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
    async def list_credentials(
        self,
        actor: Actor,
        webauthn: WebAuthnManager,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PasskeyPage:
        require_full_session(actor)
        items, next_cursor = page_slice(await webauthn.list(actor), limit=limit, cursor=cursor)
        return PasskeyPage(items=items, next_cursor=next_cursor)

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
