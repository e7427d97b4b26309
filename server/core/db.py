"""MongoDB: the client, Beanie initialisation, and transactions with retry.

`run_in_transaction` hands the work a `Tx`: the session plus what to do once it commits.
Events (`tx.publish`) and other side effects (`tx.after_commit`) are queued on the attempt
and run in order only after that attempt committed; an abort or a failed retry attempt
drops them (Zulip's `send_event_on_commit`). So a manager never publishes an event for a
write that did not happen, and never forgets one for a write that did.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    ClientBulkWriteException,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.results import ClientBulkWriteResult

from server.core.errors import ServiceUnavailable

log = logging.getLogger("server.core.db")
T = TypeVar("T")

# Server error codes worth retrying a whole transaction for (besides the labelled ones).
_RETRYABLE_CODES = {
    112,
    244,
    251,
    24,
}  # WriteConflict, TransactionAborted, NoSuchTransaction, LockTimeout


BUSY_RETRY_AFTER_SECONDS = 2


class TransactionBusy(ServiceUnavailable):
    """A transaction still conflicted when its `max_seconds` ran out (issue 15, F7).

    A process killed mid-transaction leaves its locks held until the transaction lifetime
    ends (~60 s in SecantusDB); every writer of those documents conflicts until then. A
    503 with `Retry-After` after a bounded wait is better than retrying for a minute.
    """

    code = "TRANSACTION_BUSY"

    def __init__(self, message: str = "The data is busy; retry shortly.") -> None:
        super().__init__(message, headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})


class Publisher(Protocol):
    """Where `tx.publish` sends events once the transaction committed (the event bus)."""

    async def publish(self, channel: str, type_: str, data: Any) -> object: ...

    def check(self, type_: str, data: Any) -> None:
        """Raise if the event may not be published (checked when queued, before the commit)."""


AfterCommit = Callable[[], Awaitable[object]]
# A queued event: (channel, type, payload).
Event = tuple[str, str, Any]


async def _send(publisher: Publisher, events: list[Event]) -> None:
    """Consecutive events in one round trip when the publisher can (`publish_many`)."""
    many = getattr(publisher, "publish_many", None)
    if many is not None and len(events) > 1:
        await many(events)
        return
    for channel, type_, data in events:
        await publisher.publish(channel, type_, data)


class Tx:
    """One attempt of a transaction: its `session`, and the work queued for after its commit.

    Pass `tx.session` to every read and write that belongs to the transaction. Queue events
    with `tx.publish(channel, type, payload)` and any other side effect with
    `tx.after_commit(fn)`; both run in the order queued, only once this attempt committed.
    A queued step that raises is logged and counted, never undoing the commit nor stopping
    the steps after it. Consecutive events go out in one round trip when the publisher
    offers `publish_many` (the event bus pipelines them, still in order).
    """

    __slots__ = ("_pending", "_publisher", "failures", "session")

    def __init__(self, session: AsyncClientSession, publisher: Publisher | None = None) -> None:
        self.session = session
        self._publisher = publisher
        self._pending: list[AfterCommit | Event] = []
        self.failures = 0

    def publish(self, channel: str, type_: str, data: Any) -> None:
        """Publish `type_` with `data` on `channel` after the commit."""
        publisher = self._publisher
        if publisher is None:
            raise RuntimeError("this transaction was started without a publisher")
        publisher.check(type_, data)
        self._pending.append((channel, type_, data))

    def after_commit(self, fn: AfterCommit) -> None:
        """Call `await fn()` after the commit (in order with the queued events)."""
        self._pending.append(fn)

    @property
    def pending(self) -> int:
        """How many steps wait for the commit (for tests and assertions)."""
        return len(self._pending)

    async def committed(self) -> None:
        """Run the queued steps; called by `run_in_transaction` after a successful commit."""
        steps, self._pending = self._pending, []
        events: list[Event] = []
        for step in [*steps, None]:
            if isinstance(step, tuple):
                events.append(step)
                continue
            if events:  # consecutive events go out together, before the next step
                await self._run(self._sender(events))
                events = []
            if step is not None:
                await self._run(step)

    def _sender(self, events: list[Event]) -> AfterCommit:
        publisher = self._publisher
        assert publisher is not None  # `publish` refuses to queue without one

        async def send() -> None:
            await _send(publisher, events)

        return send

    async def _run(self, step: AfterCommit) -> None:
        try:
            await step()
        except Exception:  # the write committed: a side effect never undoes it
            self.failures += 1
            log.exception(
                "after-commit step failed",
                extra={"step": getattr(step, "__qualname__", repr(step))},
            )


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


# A write of a client-level `bulk_write` (each model names its `namespace`, "db.collection").
ClientWrite = InsertOne[Any] | UpdateOne | UpdateMany | ReplaceOne[Any] | DeleteOne


async def bulk_write(
    tx: Tx, client: AsyncMongoClient[Any], writes: Sequence[ClientWrite]
) -> ClientBulkWriteResult:
    """Writes to several collections in one round trip (MongoDB 8 `bulkWrite`), in `tx`.

    Ordered: the first failing write stops the rest (and aborts the transaction). A failed
    write raises what the single-collection call would have raised, so callers keep their
    `except DuplicateKeyError` and the transaction runner still sees retryable codes.
    """
    try:
        return await client.bulk_write(list(writes), session=tx.session, ordered=True)
    except ClientBulkWriteException as exc:
        if isinstance(exc.error, PyMongoError):
            raise exc.error from exc
        errors: list[dict[str, Any]] = list(exc.details.get("writeErrors") or [])
        if not errors:
            raise
        first = errors[0]
        kind = DuplicateKeyError if first.get("code") == 11000 else OperationFailure
        raise kind(first.get("errmsg", "write failed"), first.get("code"), first) from exc


class StaleRead(OperationFailure):
    """What a transaction read changed before its conditional write (another writer won).

    Raised by the work itself when a write conditional on a value it read matched nothing;
    `run_in_transaction` retries it like the server's own write conflict (code 112).
    """

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} changed since it was read; the transaction is retried",
            112,
            {"errorLabels": ["TransientTransactionError"], "code": 112},
        )


def collection_namespace(collection: Any) -> str:
    """`db.collection` of a PyMongo collection (the `namespace` of a `bulk_write` model)."""
    return str(collection.full_name)


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
    work: Callable[[Tx], Awaitable[T]],
    *,
    publisher: Publisher | None = None,
    attempts: int = 8,
    max_seconds: float | None = None,
) -> T:
    """Run `work(tx)` in one transaction; retry the whole of it on transient failures.

    Each attempt gets a fresh `Tx`; only the attempt that commits runs its queued events
    and after-commit steps (after the commit, before this returns). Transactions stay short
    (SecantusDB holds locks of a killed process until the transaction lifetime ends), and
    conflicts back off with jitter before the next try. With `max_seconds`, a transaction
    still conflicting after that long (or after its last attempt) raises `TransactionBusy`.
    """
    delay = 0.005
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        async with client.start_session() as session:
            tx = Tx(session, publisher)
            try:
                async with await session.start_transaction():
                    result = await work(tx)
            except PyMongoError as exc:
                if not _is_transient(exc):
                    raise
                if max_seconds is not None and (
                    attempt == attempts or time.monotonic() - started + delay > max_seconds
                ):
                    raise TransactionBusy() from exc
                if attempt == attempts:
                    raise
                log.debug("transaction retry", extra={"attempt": attempt, "err": str(exc)})
            else:
                await tx.committed()
                return result
        await asyncio.sleep(delay + random.random() * delay)
        delay = min(delay * 2, 0.25)
    raise RuntimeError("unreachable")
