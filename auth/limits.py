"""Rate limits on every auth endpoint: per client IP and per account, per endpoint.

A guard on each auth controller. The account is the verified access token's user, or the
hash of an API token; unauthenticated endpoints (login, reset requests) add their own
per-account limits inside the manager (`LoginThrottle`, reset-per-address).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from redis.asyncio.client import Pipeline

from auth.bearer import prefetch_claims
from auth.client_ip import resolve_client_ip
from auth.context import ClientContext
from auth.dependencies import get_auth_manager
from auth.liveness import HOT_LIVE, HOT_REVOKED
from auth.tokens import decode_access_token, sha256_hex
from server.core.degraded import DEGRADED_ANSWERS, REDIS_ERRORS
from server.core.errors import Unauthorized

log = logging.getLogger("auth.limits")


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def auth_rate_limit(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Count the request against its per-IP and per-account limits.

    The counters are pre-counted in the process (`BatchedCounts`: Redis hears a key's first
    hit and every `RATE_LIMIT_BATCH`-th) and the session's liveness comes from the hot cache
    (`HotSessions`) when fresh; whatever must still ask Redis travels in ONE round trip, and
    most requests make none. The decoded claims and the liveness answer are left in the
    request state for `provide_actor`, so the token is decoded once per request (and the
    client's address resolved once).
    """
    manager = get_auth_manager(connection.app.state)
    config = manager.config
    fn = getattr(handler, "fn", None)
    bucket = handler.opt.get("rate_bucket") or getattr(fn, "__qualname__", None)
    bucket = bucket or handler.handler_name  # not evaluated eagerly: it costs a lookup
    headers = connection.headers
    peer = connection.client.host if connection.client else None
    ip = resolve_client_ip(peer, headers.get("x-forwarded-for"), config.trusted_proxies)

    token = _bearer(headers.get("authorization", ""))
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

    counts = manager.limit_counts
    flushes: list[tuple[str, str, int, int]] = []  # (bucket, key, hits, limit)
    checks = [(f"ip:{bucket}", ip or "-", config.auth_per_ip_per_minute)]
    if account:
        checks.append((f"acct:{bucket}", account, config.auth_per_account_per_minute))
    for name, key, limit in checks:
        hits = counts.hit(f"{name}:{key}", limit=limit)
        if hits:
            flushes.append((name, key, hits, limit))
    hot = manager.hot_sessions.get(claims.session_id) if claims is not None else None
    liveness: Sequence[Any] = HOT_LIVE if hot else HOT_REVOKED
    if flushes or (claims is not None and hot is None):
        # One round trip for whatever is due: counter flushes and the liveness check.
        try:
            sid = claims.session_id if claims is not None and hot is None else None

            def build(pipe: Pipeline) -> None:
                for name, key, hits, _ in flushes:
                    manager.limits.queue_hit(pipe, name, key, window=60, amount=hits)
                if sid is not None:
                    manager.queue_session_liveness(pipe, sid)

            answers = await manager.limits.pipelined(build)
        except REDIS_ERRORS as exc:
            # Issue 15, F3: without Redis the shared counters fail open (this process's own
            # pre-counts above still limit it) and liveness falls back to MongoDB, where
            # revocations are stored. Logged and counted.
            log.warning("redis unavailable: rate limits fail open (%s)", type(exc).__name__)
            DEGRADED_ANSWERS["rate_limit_fail_open"] += 1
            if claims is not None and hot is None:
                liveness = (None, None)  # unknown: the database decides
        else:
            for (name, key, _, limit), (count, ttl) in zip(flushes, answers, strict=False):
                counts.flushed(f"{name}:{key}", count, ttl)
                manager.limits.check(count, ttl, limit=limit)
            if claims is not None and hot is None:
                liveness = answers[-1]
    if claims is not None and token is not None:
        client = ClientContext(ip=ip, user_agent=headers.get("user-agent"))
        prefetch_claims(connection.scope, token, claims, liveness, client)
