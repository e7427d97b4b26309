"""HTTP routes for accounts and sessions: thin, every rule lives in `AuthManager`."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.actor import Actor
from auth.manager import AuthManager, ClientContext
from auth.schemas import (
    AuthResponse,
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    RegisterRequest,
    SessionView,
    UserView,
)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", status_code=HTTP_201_CREATED, summary="Create an account and log in")
    async def register(
        self, data: RegisterRequest, auth_manager: AuthManager, client: ClientContext
    ) -> AuthResponse:
        return await auth_manager.register(data, client)

    @post("/login", status_code=HTTP_200_OK, summary="Log in with username or e-mail")
    async def login(
        self, data: LoginRequest, auth_manager: AuthManager, client: ClientContext
    ) -> AuthResponse:
        return await auth_manager.login(data, client)

    @post("/refresh", status_code=HTTP_200_OK, summary="Rotate the refresh token")
    async def refresh(
        self, data: RefreshRequest, auth_manager: AuthManager, client: ClientContext
    ) -> AuthResponse:
        return await auth_manager.refresh(data, client)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="End this session")
    async def logout(self, actor: Actor, auth_manager: AuthManager) -> None:
        await auth_manager.logout(actor)

    @get("/me", summary="The current user")
    async def me(self, actor: Actor, auth_manager: AuthManager) -> UserView:
        return await auth_manager.me(actor)

    @get("/sessions", summary="Active sessions of the current user")
    async def sessions(self, actor: Actor, auth_manager: AuthManager) -> list[SessionView]:
        return await auth_manager.list_sessions(actor)

    @delete("/sessions/{session_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def revoke_session(
        self, session_id: str, actor: Actor, auth_manager: AuthManager
    ) -> None:
        await auth_manager.revoke_session(actor, session_id)

    @post("/password", status_code=HTTP_204_NO_CONTENT, summary="Change the password")
    async def change_password(
        self, data: PasswordChangeRequest, actor: Actor, auth_manager: AuthManager
    ) -> None:
        await auth_manager.change_password(actor, data)
