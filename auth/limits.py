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
from auth.sessions import prefetch_claims
from auth.tokens import decode_access_token, sha256_hex
from server.core.errors import Unauthorized


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def auth_rate_limit(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Count the request against its per-IP and per-account limits.

    The two counters and, for an access token, the session's liveness check travel in ONE
    Redis round trip; the decoded claims and the liveness answer are left in the request
    state for `provide_actor`, so the token is decoded and Redis asked once per request.
    """
    manager = get_auth_manager(connection.app.state)
    config = manager.config
    fn = getattr(handler, "fn", None)
    bucket = handler.opt.get("rate_bucket") or getattr(fn, "__qualname__", handler.handler_name)
    peer = connection.client.host if connection.client else None
    ip = resolve_client_ip(peer, connection.headers.get("x-forwarded-for"), config.trusted_proxies)

    token = _bearer(connection.headers.get("authorization", ""))
    account: str | None = None
    claims = None
    if token and token.startswith("sbp_"):
        account = "t:" + sha256_hex(token)[:32]
    elif token:
        try:
            claims = decode_access_token(token, secret=config.secret_key, issuer=config.jwt_issuer)
            account = "u:" + claims.user_id
        except Unauthorized:
            claims = None

    async with manager.redis.pipeline(transaction=False) as pipe:
        await manager.limits.queue_hit(pipe, f"ip:{bucket}", ip or "-", window=60)
        if account:
            await manager.limits.queue_hit(pipe, f"acct:{bucket}", account, window=60)
        if claims is not None:
            manager.queue_session_liveness(pipe, claims.session_id)
        answers = await pipe.execute()

    manager.limits.check(*answers[0], limit=config.auth_per_ip_per_minute)
    if account:
        manager.limits.check(*answers[1], limit=config.auth_per_account_per_minute)
    if claims is not None and token is not None:
        prefetch_claims(connection.scope, token, claims, answers[-1])
