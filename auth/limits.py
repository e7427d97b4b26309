"""Rate limits on every auth endpoint: per client IP and per account, per endpoint.

A guard on each auth controller. The account is the verified access token's user, or the
hash of an API token; unauthenticated endpoints (login, reset requests) add their own
per-account limits inside the manager (`LoginThrottle`, reset-per-address).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from auth.client_ip import resolve_client_ip
from auth.dependencies import get_auth_manager
from auth.tokens import decode_access_token, sha256_hex
from server.errors import Unauthorized


def _account_key(header: str, secret: str, issuer: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if token.startswith("sbp_"):
        return "t:" + sha256_hex(token)[:32]
    try:
        return "u:" + decode_access_token(token, secret=secret, issuer=issuer).user_id
    except Unauthorized:
        return None


async def auth_rate_limit(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    manager = get_auth_manager(connection.app.state)
    config = manager.config
    fn = getattr(handler, "fn", None)
    bucket = handler.opt.get("rate_bucket") or getattr(fn, "__qualname__", handler.handler_name)
    peer = connection.client.host if connection.client else None
    ip = resolve_client_ip(peer, connection.headers.get("x-forwarded-for"), config.trusted_proxies)
    await manager.limits.hit(
        f"ip:{bucket}", ip or "-", limit=config.auth_per_ip_per_minute, window=60
    )
    account = _account_key(
        connection.headers.get("authorization", ""), config.secret_key, config.jwt_issuer
    )
    if account:
        await manager.limits.hit(
            f"acct:{bucket}", account, limit=config.auth_per_account_per_minute, window=60
        )
