"""MongoDB: the client, Beanie initialisation, and transactions with retry."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

log = logging.getLogger("server.core.db")
T = TypeVar("T")

# Server error codes worth retrying a whole transaction for (besides the labelled ones).
_RETRYABLE_CODES = {
    112,
    244,
    251,
    24,
}  # WriteConflict, TransactionAborted, NoSuchTransaction, LockTimeout


def make_client(url: str, *, timeout_ms: int = 5000) -> AsyncMongoClient[Any]:
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        uuidRepresentation="standard",
    )


async def init_db(
    client: AsyncMongoClient[Any], db_name: str, documents: Sequence[type[Document]]
) -> None:
    await init_beanie(database=client[db_name], document_models=list(documents))


def _is_transient(exc: PyMongoError) -> bool:
    if isinstance(exc, ConnectionFailure):
        return True
    if exc.has_error_label("TransientTransactionError") or exc.has_error_label(
        "UnknownTransactionCommitResult"
    ):
        return True
    return isinstance(exc, OperationFailure) and exc.code in _RETRYABLE_CODES


async def run_in_transaction(
    client: AsyncMongoClient[Any],
    work: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    attempts: int = 8,
) -> T:
    """Run `work(session)` in one transaction; retry the whole of it on transient failures.

    Transactions stay short (SecantusDB holds locks of a killed process until the
    transaction lifetime ends), and conflicts back off with jitter before the next try.
    """
    delay = 0.005
    for attempt in range(1, attempts + 1):
        async with client.start_session() as session:
            try:
                async with await session.start_transaction():
                    return await work(session)
            except PyMongoError as exc:
                if attempt == attempts or not _is_transient(exc):
                    raise
                log.debug("transaction retry", extra={"attempt": attempt, "err": str(exc)})
        await asyncio.sleep(delay + random.random() * delay)
        delay = min(delay * 2, 0.25)
    raise RuntimeError("unreachable")
