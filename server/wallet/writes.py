"""The writes of one movement: one read of both accounts (usually none), then one `bulk_write`.

A transfer used to cost four statements plus the commit (conditional debit, credit,
transfer insert, the caller's idempotency record). Here it costs two: both accounts are
read in the transaction, the checks run on what was read (funds, frozen, closed), and the
debit, the credit, the immutable `Transfer` and the caller's own inserts (`also`) go out in
one client-level `bulk_write`. Each balance update is conditional on the balance that was
read (and on the account still being open and, for the debit, not frozen), so a write that
raced with another transaction matches nothing: the transaction then raises a retryable
write conflict and `run_in_transaction` tries it again from the read. Balances therefore
stay exact whatever the database's isolation level.

The read is skipped when this process committed both accounts last (`AccountCache`,
account_cache.py): the conditional updates then check the cached balances the same way,
and a stale entry costs one retry with a real read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient, InsertOne, UpdateOne

from server.core.clock import utcnow
from server.core.db import StaleRead, Tx, bulk_write, collection_namespace
from server.wallet.account_cache import AccountCache
from server.wallet.documents import Account, Transfer
from server.wallet.errors import (
    AccountNotFound,
    InsufficientFunds,
    RecipientNotFound,
    WalletClosed,
    WalletFrozen,
)
from server.wallet.movement import Moved, Movement

# The caller's inserts for the same round trip, built from the movement's result (e.g. the
# idempotency record holding the answer). Inserts only: they never change `matched_count`.
AlsoInsert = Callable[[Moved], Awaitable[Sequence[InsertOne[Any]]]]


class MovementWriter:
    """Reads, checks and writes one authorised movement inside a transaction."""

    def __init__(self, mongo: AsyncMongoClient[Any]) -> None:
        self._mongo = mongo
        # What this process committed last, instead of a read (account_cache.py).
        self.cache = AccountCache()

    @property
    def _accounts(self) -> Any:
        return Account.get_pymongo_collection()

    @property
    def _transfers(self) -> Any:
        return Transfer.get_pymongo_collection()

    async def write(
        self, tx: Tx, m: Movement, *, unlimited: bool, also: AlsoInsert | None = None
    ) -> Moved:
        """Move `m.amount` in `tx`; `unlimited` (the issuer) may go below zero."""
        src, dst = ObjectId(m.from_account), ObjectId(m.to_account)
        source, target = self.cache.get(src), self.cache.get(dst)
        if source is None or target is None or (not unlimited and source["balance"] < m.amount):
            read = {
                d["_id"]: d
                async for d in self._accounts.find(
                    {"_id": {"$in": [src, dst]}}, session=tx.session
                )
            }
            source, target = read.get(src), read.get(dst)
        _check_debit(source, m, unlimited=unlimited)
        assert source is not None
        if target is None:
            raise RecipientNotFound("The recipient does not exist.")
        if target.get("closed"):
            raise WalletClosed("The receiving wallet is closed.")
        now = utcnow()
        source_after = {**source, "balance": source["balance"] - m.amount, "updated_at": now}
        target_after = {**target, "balance": target["balance"] + m.amount, "updated_at": now}
        transfer = Transfer(
            id=ObjectId(),
            idempotency_key=m.idempotency_key,
            from_account=m.from_account,
            to_account=m.to_account,
            accounts=[m.from_account, m.to_account],
            amount=m.amount,
            kind=m.kind,
            actor_id=m.actor_id,
            memo=m.memo,
            correlation_id=m.correlation_id,
            from_balance_after=source_after["balance"],
            to_balance_after=target_after["balance"],
            created_at=now,
        )
        moved = Moved(
            transfer=transfer,
            from_account=Account.model_validate(source_after),
            to_account=Account.model_validate(target_after),
        )
        accounts = collection_namespace(self._accounts)
        writes: list[Any] = [
            UpdateOne(
                {"_id": src, "balance": source["balance"], "frozen": False, "closed": False},
                {"$inc": {"balance": -m.amount}, "$set": {"updated_at": now}},
                namespace=accounts,
            ),
            UpdateOne(
                {"_id": dst, "balance": target["balance"], "closed": False},
                {"$inc": {"balance": m.amount}, "$set": {"updated_at": now}},
                namespace=accounts,
            ),
            InsertOne(
                # Without empty `memo`/`correlation_id`: the sparse index then skips them.
                transfer.model_dump(by_alias=True, exclude={"revision_id"}, exclude_none=True),
                namespace=collection_namespace(self._transfers),
            ),
        ]
        if also is not None:
            writes.extend(await also(moved))
        try:
            result = await bulk_write(tx, self._mongo, writes)
        except BaseException:
            self.cache.drop(src, dst)
            raise
        if result.matched_count != 2:  # a stale read or a stale cache entry: read again
            self.cache.drop(src, dst)
            raise StaleRead("an account")

        async def remember() -> None:
            self.cache.put(source_after)
            self.cache.put(target_after)

        tx.after_commit(remember)
        return moved


def _check_debit(doc: dict[str, Any] | None, m: Movement, *, unlimited: bool) -> None:
    """The paying account as read: `ACCOUNT_NOT_FOUND`, `WALLET_CLOSED`, `WALLET_FROZEN`,
    `INSUFFICIENT_FUNDS` (in that order, as the conditional debit used to explain itself)."""
    if doc is None:
        raise AccountNotFound("The paying wallet does not exist.")
    if doc.get("closed"):
        raise WalletClosed("The paying wallet is closed.")
    if doc.get("frozen"):
        raise WalletFrozen(
            "The paying wallet is frozen.",
            details=[{"reason": doc.get("frozen_reason")}] if doc.get("frozen_reason") else [],
        )
    if not unlimited and doc["balance"] < m.amount:
        raise InsufficientFunds(
            "The wallet does not hold enough tokens.",
            details=[{"balance": doc["balance"], "amount": m.amount}],
        )
