"""Ledger documents: one `Account` per owner, immutable `Transfer`s, idempotency records.

Balances change only in `Ledger.move` (conditional `$inc`s in the same transaction and the
same `bulk_write` as the `Transfer` insert, server/wallet/writes.py), so every balance
equals the sum of its transfers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document, PydanticObjectId
from bson import ObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow

OwnerType = Literal["user", "family", "workspace", "system"]
TransferKind = Literal["transfer", "purchase", "mint", "refund", "request_payout", "payout"]

OWNER_TYPES: tuple[str, ...] = ("user", "family", "workspace", "system")
TRANSFER_KINDS: tuple[str, ...] = (
    "transfer",
    "purchase",
    "mint",
    "refund",
    "request_payout",
    "payout",
)

# The one system account ("the issuer"): tokens are minted out of it and spent into it, so
# its balance is always -(minted - burned) and may be negative. Nothing else may go below 0.
ISSUER_OWNER_ID = ObjectId("000000000000000000000000")


class Account(Document):
    owner_type: str
    owner_id: PydanticObjectId
    # User accounts: the owner's username (immutable), so a recipient resolves in one read.
    username: str | None = None
    balance: int = 0
    frozen: bool = False
    frozen_reason: str | None = None
    frozen_at: datetime | None = None
    closed: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "wallet_accounts"
        indexes = [
            IndexModel(
                [("owner_type", ASCENDING), ("owner_id", ASCENDING)],
                unique=True,
                name="owner_unique",
            ),
            IndexModel([("username", ASCENDING)], name="username"),
        ]

    @property
    def is_system(self) -> bool:
        return self.owner_type == "system"


class Transfer(Document):
    """Immutable: written once, inside the transaction that moved the tokens."""

    idempotency_key: str
    from_account: PydanticObjectId
    to_account: PydanticObjectId
    # Both account ids, so "my transfers, newest first" is one indexed query.
    accounts: list[PydanticObjectId]
    amount: int
    kind: str
    actor_id: PydanticObjectId
    memo: str | None = None
    correlation_id: str | None = None
    from_balance_after: int
    to_balance_after: int
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "wallet_transfers"
        indexes = [
            IndexModel([("idempotency_key", ASCENDING)], unique=True, name="idempotency_key"),
            IndexModel(
                [("accounts", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="account_history_by_time",
            ),
            IndexModel([("correlation_id", ASCENDING)], name="correlation_id", sparse=True),
        ]


class IdempotencyRecord(Document):
    """The stored outcome of one `Idempotency-Key` (Stripe semantics), kept >= 24 h.

    `id` is `<scope>:<actor id>:<key>`. The record of a success is written in the same
    transaction as the money movement; a domain error is stored right after it happened.
    """

    id: str  # type: ignore[assignment]
    scope: str
    actor_id: PydanticObjectId
    key: str
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    error: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "idempotency_records"
        indexes = [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
        ]
