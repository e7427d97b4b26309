"""A dependency outage is a 503 with `Retry-After`, never a 500 (issue 15, F3, F7).

Redis or MongoDB being unreachable (or a transaction that keeps conflicting on locks a
killed process still holds) reaches the client as 503 `DEPENDENCY_UNAVAILABLE` with
`Retry-After`; the request wrote nothing it would not write again (idempotency keys make a
retried transfer safe). Every such answer is logged and counted in `DEGRADED_ANSWERS`.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from litestar import Request, Response
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.core.errors import error_response, handle_unexpected

log = logging.getLogger("server.degraded")

RETRY_AFTER_SECONDS = 2
# What answered 503 because of which dependency (for the metrics endpoint and tests).
DEGRADED_ANSWERS: Counter[str] = Counter()

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def unavailable(dependency: str) -> Response[dict[str, Any]]:
    DEGRADED_ANSWERS[dependency] += 1
    return error_response(
        503,
        "DEPENDENCY_UNAVAILABLE",
        f"A service we depend on ({dependency}) is unavailable; retry shortly.",
        [{"dependency": dependency}],
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def handle_redis_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("redis unavailable: %s", type(exc).__name__)
    return unavailable("redis")


def is_transient(exc: PyMongoError) -> bool:
    """Connection loss, or a transaction error MongoDB itself labels as retryable."""
    if isinstance(exc, ConnectionFailure):
        return True
    labels = ("TransientTransactionError", "UnknownTransactionCommitResult")
    if any(exc.has_error_label(label) for label in labels):
        return True
    return isinstance(exc, OperationFailure) and exc.code in (112, 24, 251, 262, 50)


def handle_mongo_error(
    request: Request[Any, Any, Any], exc: PyMongoError
) -> Response[dict[str, Any]]:
    if is_transient(exc):
        log.warning("mongodb unavailable or locked: %s", type(exc).__name__)
        return unavailable("mongodb")
    return handle_unexpected(request, exc)


DEGRADED_HANDLERS: dict[type[Exception] | int, Any] = {
    RedisConnectionError: handle_redis_error,
    RedisTimeoutError: handle_redis_error,
    PyMongoError: handle_mongo_error,
}
