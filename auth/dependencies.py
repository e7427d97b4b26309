"""Dependencies every route uses: the `Actor` (built by one function) and the client context."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from auth.bearer import prefetched_for
from auth.client_ip import resolve_client_ip
from auth.manager import AuthManager, ClientContext
from server.core.actor import Actor
from server.core.errors import Unauthorized

AUTH_MANAGER_STATE_KEY = "auth_manager"


def get_auth_manager(state: State) -> AuthManager:
    return state[AUTH_MANAGER_STATE_KEY]


def client_context(request: Request[Any, Any, Any]) -> ClientContext:
    manager = get_auth_manager(request.app.state)
    peer = request.client.host if request.client else None
    ip = resolve_client_ip(
        peer, request.headers.get("x-forwarded-for"), manager.config.trusted_proxies
    )
    return ClientContext(ip=ip, user_agent=request.headers.get("user-agent"))


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authentication is required.", code="UNAUTHORIZED")
    return token.strip()


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """The one place an HTTP request becomes an `Actor` (or a 401)."""
    cached = request.scope.get("state", {}).get("actor")
    if cached is not None:
        return cached
    manager = get_auth_manager(request.app.state)
    prefetched = prefetched_for(request.scope)
    if prefetched is not None and prefetched.client is not None:
        # The rate-limit guard read this request's bearer token and client already.
        actor = await manager.authenticate(prefetched.token, prefetched.client, prefetched)
    else:
        actor = await manager.authenticate(
            bearer_token(request), client_context(request), prefetched
        )
    request.scope.setdefault("state", {})["actor"] = actor
    return actor


def provide_auth_manager(state: State) -> AuthManager:
    return get_auth_manager(state)


async def provide_client_context(request: Request[Any, Any, Any]) -> ClientContext:
    prefetched = prefetched_for(request.scope)
    if prefetched is not None and prefetched.client is not None:
        return prefetched.client  # resolved by the rate-limit guard for this request
    return client_context(request)


AUTH_DEPENDENCIES: dict[str, Provide] = {
    "actor": Provide(provide_actor),
    "auth_manager": Provide(provide_auth_manager, sync_to_thread=False),
    "client": Provide(provide_client_context),
}
