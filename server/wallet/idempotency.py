"""Idempotency keys with Stripe semantics, for every money-moving request.

- The first request with a key runs. Its outcome is stored under `<scope>:<actor>:<key>`
  with a fingerprint of its parameters: a success in the same transaction as the money
  movement, a domain error (4xx) right after it. Unexpected failures and 5xx answers
  (503 `WALLET_BUSY`) store nothing, so the client may retry them with the same key.
- The same key with the same parameters answers the stored outcome (status and body).
- The same key with other parameters answers 409 `IDEMPOTENCY_KEY_REUSED`.
- Concurrent duplicates: each runs its transaction; all but one hit the unique record (or
  the unique transfer key) and answer the stored outcome, so exactly one moves tokens.

Records expire after `ttl_seconds` (>= 24 h) through a TTL index. The ledger's transfer keys
never expire, so a key retried after its record is gone can still never move tokens twice
(it answers 409).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import msgspec
from bson import ObjectId
from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.core.clock import utcnow
from server.core.db import collection_namespace
from server.core.errors import BadRequest, Conflict, DomainError
from server.wallet.documents import IdempotencyRecord

T = TypeVar("T")

KEY_HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


def check_key(key: str | None) -> str:
    """The header value, or 400 `IDEMPOTENCY_KEY_REQUIRED` / `IDEMPOTENCY_KEY_INVALID`."""
    if key is None or not key.strip():
        raise BadRequest(
            "This request moves tokens and needs an Idempotency-Key header.",
            code="IDEMPOTENCY_KEY_REQUIRED",
        )
    key = key.strip()
    if not _KEY_RE.match(key):
        raise BadRequest(
            "The Idempotency-Key must be 1-255 printable ASCII characters.",
            code="IDEMPOTENCY_KEY_INVALID",
        )
    return key


def fingerprint(scope: str, params: Any) -> str:
    """A stable hash of the request parameters (msgspec Structs or builtins)."""
    canonical = msgspec.json.encode(
        {"scope": scope, "params": msgspec.to_builtins(params)}, order="deterministic"
    )
    return hashlib.sha256(canonical).hexdigest()


class StoredError(DomainError):
    """A domain error answered again from an idempotency record."""

    def __init__(self, status: int, code: str, message: str, details: list[Any]) -> None:
        super().__init__(message, code=code, details=details)
        self.status_code = status


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    value: T
    replayed: bool = False
    # The HTTP status to answer: the recorder's, or the one stored with the first outcome.
    status_code: int = 201


@dataclass(frozen=True, slots=True)
class Recorder:
    """Handed to the operation: `await rec.save(session, value)` inside its transaction."""

    store: IdempotencyStore
    record_id: str
    scope: str
    actor_id: ObjectId
    key: str
    fingerprint: str
    status_code: int

    async def save(
        self, session: AsyncClientSession | None, value: Any, *, status_code: int | None = None
    ) -> None:
        """Store the outcome (in the operation's transaction when `session` is given)."""
        status = status_code or self.status_code
        await self.store._insert(self, value, error=False, status=status, session=session)

    def insert_op(self, value: Any, *, status_code: int | None = None) -> InsertOne[Any]:
        """The same record as `save`, as a write for the operation's own `bulk_write` (so it
        costs no round trip of its own)."""
        doc = self.store._document(self, value, error=False, status=status_code or self.status_code)
        return InsertOne(doc, namespace=collection_namespace(self.store._collection))


class IdempotencyStore:
    def __init__(self, mongo: AsyncMongoClient[Any], *, ttl_seconds: int = 24 * 3600) -> None:
        self._mongo = mongo
        self._ttl = max(ttl_seconds, 24 * 3600)

    @property
    def _collection(self) -> Any:
        return IdempotencyRecord.get_pymongo_collection()

    async def run(
        self,
        *,
        scope: str,
        actor_id: ObjectId,
        key: str,
        params: Any,
        result_type: Any,
        operation: Callable[[Recorder], Awaitable[T]],
        status_code: int = 201,
        prefetch: bool = True,
    ) -> Outcome[T]:
        """Run `operation` once per (scope, actor, key); replay its stored outcome after.

        `operation` must call `recorder.save(session, value)` in the transaction that does
        the work. Domain errors it raises are stored and re-raised. `result_type` is the
        type to decode a stored body into, or a `{status: type}` dict when an operation
        answers with more than one status (the value then says which via `Outcome`).
        `prefetch=False` skips the first read of the record: only for operations whose
        every effect happens in the transaction that saves the record.
        """
        rec = Recorder(
            store=self,
            record_id=f"{scope}:{actor_id}:{key}",
            scope=scope,
            actor_id=actor_id,
            key=key,
            fingerprint=fingerprint(scope, params),
            status_code=status_code,
        )
        if prefetch:
            existing = await self._collection.find_one({"_id": rec.record_id})
            if existing is not None:
                return self._replay(existing, rec, result_type)
        try:
            value = await operation(rec)
            if isinstance(value, Outcome):
                return value
        except DuplicateKeyError:
            # A twin request (or an earlier run of this one) already committed.
            return await self._replay_stored(rec, result_type)
        except (StoredError, KeyReused):
            raise
        except DomainError as exc:
            if exc.status_code >= 500:  # retryable (WALLET_BUSY): the retry must run again
                raise
            body = {"code": exc.code, "message": exc.message, "details": exc.details}
            try:
                await self._insert(rec, body, error=True, status=exc.status_code, session=None)
            except DuplicateKeyError:
                return await self._replay_stored(rec, result_type)
            raise
        return Outcome(value, status_code=status_code)

    async def _replay_stored(self, rec: Recorder, result_type: Any) -> Outcome[T]:
        existing = await self._collection.find_one({"_id": rec.record_id})
        if existing is None:
            raise KeyReused(
                "This Idempotency-Key was already used for an earlier request.",
            )
        return self._replay(existing, rec, result_type)

    def _replay(self, record: dict[str, Any], rec: Recorder, result_type: Any) -> Outcome[T]:
        if record["fingerprint"] != rec.fingerprint:
            raise KeyReused(
                "This Idempotency-Key was already used with different parameters.",
            )
        body = record["body"]
        if record.get("error"):
            raise StoredError(
                int(record["status_code"]), body["code"], body["message"], body.get("details", [])
            )
        status = int(record["status_code"])
        if isinstance(result_type, dict):
            result_type = result_type[status]
        return Outcome(msgspec.convert(body, result_type), replayed=True, status_code=status)

    async def _insert(
        self,
        rec: Recorder,
        value: Any,
        *,
        error: bool,
        status: int,
        session: AsyncClientSession | None,
    ) -> None:
        await self._collection.insert_one(
            self._document(rec, value, error=error, status=status), session=session
        )

    def _document(self, rec: Recorder, value: Any, *, error: bool, status: int) -> dict[str, Any]:
        now = utcnow()
        return {
            "_id": rec.record_id,
            "scope": rec.scope,
            "actor_id": rec.actor_id,
            "key": rec.key,
            "fingerprint": rec.fingerprint,
            "status_code": status,
            "body": msgspec.to_builtins(value),
            "error": error,
            "created_at": now,
            "expires_at": now + timedelta(seconds=self._ttl),
        }


class KeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
