"""HTTP routes for accounts and sessions: thin, every rule lives in `AuthManager`."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.limits import auth_rate_limit
from auth.manager import AuthManager, ClientContext
from auth.schemas import (
    AuthResponse,
    AuthSessionPage,
    LoginRequest,
    PasswordChangeRequest,
    ReauthRequest,
    RefreshRequest,
    RegisterRequest,
    RevokedSessionsView,
    UserView,
)
from auth.scopes import require_full_session, require_scope
from auth.sessions import Sessions
from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    guards = [auth_rate_limit]

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
        self, data: RefreshRequest, sessions: Sessions, client: ClientContext
    ) -> AuthResponse:
        return await sessions.refresh(data, client)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="End this session")
    async def logout(self, actor: Actor, sessions: Sessions) -> None:
        await sessions.logout(actor)

    @post("/reauth", status_code=HTTP_200_OK, summary="Step-up: authenticate again")
    async def reauth(
        self,
        data: ReauthRequest,
        actor: Actor,
        auth_manager: AuthManager,
        client: ClientContext,
    ) -> AuthResponse:
        return await auth_manager.reauthenticate(actor, data, client)

    @get("/me", summary="The current user")
    async def me(self, actor: Actor, auth_manager: AuthManager) -> UserView:
        require_scope(actor, "profile:read")
        return await auth_manager.me(actor)

    @get("/sessions", summary="Active sessions of the current user")
    async def sessions(
        self, actor: Actor, sessions: Sessions, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> AuthSessionPage:
        require_full_session(actor)
        items, next_cursor = page_slice(
            await sessions.list_sessions(actor), limit=limit, cursor=cursor
        )
        return AuthSessionPage(items=items, next_cursor=next_cursor)

    @delete("/sessions/{session_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def revoke_session(self, session_id: str, actor: Actor, sessions: Sessions) -> None:
        require_full_session(actor)
        await sessions.revoke_session(actor, session_id)

    @delete(
        "/admin/users/{user_id:str}/sessions",
        status_code=HTTP_200_OK,
        summary="Admin: end every session of a user (step-up)",
    )
    async def admin_revoke_sessions(
        self, user_id: str, actor: Actor, sessions: Sessions
    ) -> RevokedSessionsView:
        return RevokedSessionsView(revoked=await sessions.admin_revoke_sessions(actor, user_id))

    @post(
        "/sessions/revoke-others",
        status_code=HTTP_200_OK,
        summary="End every other session (step-up)",
    )
    async def revoke_other_sessions(self, actor: Actor, sessions: Sessions) -> RevokedSessionsView:
        return RevokedSessionsView(revoked=await sessions.revoke_other_sessions(actor))

    @post("/password", status_code=HTTP_204_NO_CONTENT, summary="Change the password (step-up)")
    async def change_password(
        self,
        data: PasswordChangeRequest,
        actor: Actor,
        auth_manager: AuthManager,
        client: ClientContext,
    ) -> None:
        await auth_manager.change_password(actor, data, client)
