"""`/api/v1/auth/tokens`: permanent API tokens (thin; rules in `ApiTokenManager`)."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.api_tokens.manager import ApiTokenManager
from auth.api_tokens.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenPage
from auth.limits import auth_rate_limit
from auth.scopes import require_full_session
from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice


class ApiTokenController(Controller):
    path = "/api/v1/auth/tokens"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @post("/", status_code=HTTP_201_CREATED, summary="Create an API token (shown once)")
    async def create(
        self, data: ApiTokenCreate, actor: Actor, api_tokens: ApiTokenManager
    ) -> ApiTokenCreated:
        return await api_tokens.create(actor, data)

    @get("/", summary="My API tokens (no secrets)")
    async def list_tokens(
        self,
        actor: Actor,
        api_tokens: ApiTokenManager,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ApiTokenPage:
        require_full_session(actor)
        items, next_cursor = page_slice(await api_tokens.list(actor), limit=limit, cursor=cursor)
        return ApiTokenPage(items=items, next_cursor=next_cursor)

    @delete("/{token_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Revoke an API token")
    async def revoke(self, token_id: str, actor: Actor, api_tokens: ApiTokenManager) -> None:
        require_full_session(actor)
        await api_tokens.revoke(actor, token_id)
