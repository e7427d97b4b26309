"""The movement's writes: one read, one `bulk_write` (server/wallet/writes.py).

A transfer reads both accounts and then sends the debit, the credit, the `Transfer` and the
caller's idempotency record in one round trip. The balance updates are conditional on the
balances read; these tests make that read stale on purpose and check that the transaction
is retried from the read, never writing a wrong `*_balance_after`, and that a duplicate key
inside the batch still surfaces as `DuplicateKeyError` (what the idempotency store and
`commit_move` catch).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from bson import ObjectId
from pymongo import InsertOne
from pymongo.errors import DuplicateKeyError

from server.core.db import Tx, bulk_write, collection_namespace
from server.wallet.audit import run_audit
from server.wallet.documents import Account, Transfer
from server.wallet.errors import WalletFrozen
from server.wallet.ledger import Ledger
from server.wallet.movement import Moved, Movement
from tests.helpers import services, settled
from tests.integration.wallet_support import admin, balance, mint, verified_user

pytestmark = pytest.mark.integration


async def _accounts(client: Any, *users: dict[str, Any]) -> list[Account]:
    ledger = services(client).ledger
    found = [await ledger.account_for("user", ObjectId(u["user"]["id"])) for u in users]
    assert all(a is not None for a in found)
    return found  # type: ignore[return-value]


def _movement(source: Account, target: Account, amount: int, actor: str) -> Movement:
    return Movement(
        from_account=source.id,  # type: ignore[arg-type]
        to_account=target.id,  # type: ignore[arg-type]
        amount=amount,
        kind="transfer",
        idempotency_key=f"test:{ObjectId()}",
        actor_id=ObjectId(actor),
    )


async def _funded_pair(
    client: Any, funds: int
) -> tuple[dict[str, Any], dict[str, Any], Account, Account]:
    """alice (holding `funds`, minted and settled) and bob, with their accounts."""
    boss = await admin(client)
    alice, bob = await verified_user(client), await verified_user(client)
    await mint(client, boss, alice["user"]["username"], funds)
    await settled(client)
    source, target = await _accounts(client, alice, bob)
    return alice, bob, source, target


async def test_a_balance_changed_after_the_read_retries_the_move_with_exact_balances(client):
    """Bug guarded: with the debit conditional on the balance *read* (not just `>= amount`),
    a concurrent change between the read and the write must not be written over, nor
    recorded as a wrong `from_balance_after`; the attempt is retried from a fresh read."""
    alice, bob, source, target = await _funded_pair(client, 50)
    ledger = services(client).ledger
    calls: list[int] = []

    async def interfere(moved: Moved) -> list[InsertOne[Any]]:
        calls.append(moved.transfer.from_balance_after)
        if len(calls) == 1:  # another writer credits alice between our read and our write
            await Account.get_pymongo_collection().update_one(
                {"_id": source.id}, {"$inc": {"balance": 5}}
            )
        return []

    async def work(tx: Tx) -> Moved:
        return await ledger.move(
            tx, _movement(source, target, 20, alice["user"]["id"]), also=interfere
        )

    moved = await ledger.run(work)
    assert calls[0] == 30 and calls[-1] == 35 and len(calls) >= 2
    assert moved.transfer.from_balance_after == 35
    assert moved.transfer.to_balance_after == 20
    assert await balance(client, alice) == 35 and await balance(client, bob) == 20
    stored = await Transfer.get_pymongo_collection().count_documents(
        {"idempotency_key": moved.transfer.idempotency_key}
    )
    assert stored == 1
    await Account.get_pymongo_collection().update_one(
        {"_id": source.id}, {"$inc": {"balance": -5}}
    )  # undo the out-of-ledger credit so the audit below checks the ledger's own writes
    assert (await run_audit()).ok


async def test_a_duplicate_key_in_the_batch_is_a_duplicate_key_error_and_moves_nothing(client):
    """Bug guarded: a client-level `bulk_write` reports a duplicate key as a
    `ClientBulkWriteException`; callers catch `DuplicateKeyError` (idempotent replays), so
    the helper must raise that, and the aborted transaction must leave no balance change."""
    alice, bob, source, target = await _funded_pair(client, 50)
    svc = services(client)
    probe = svc.mongo[client.app.state["settings"].mongodb_db]["tx_probe"]
    await probe.insert_one({"_id": "taken"})

    async def twice(moved: Moved) -> list[InsertOne[Any]]:
        return [InsertOne({"_id": "taken"}, namespace=collection_namespace(probe))]

    async def work(tx: Tx) -> Moved:
        return await svc.ledger.move(
            tx, _movement(source, target, 20, alice["user"]["id"]), also=twice
        )

    with pytest.raises(DuplicateKeyError):
        await svc.ledger.run(work)
    assert await balance(client, alice) == 50 and await balance(client, bob) == 0

    async def plain(tx: Tx) -> object:
        return await bulk_write(
            tx, svc.mongo, [InsertOne({"_id": "taken"}, namespace=collection_namespace(probe))]
        )

    with pytest.raises(DuplicateKeyError):
        await svc.ledger.run(plain)


async def _cached_pair(client: Any) -> tuple[Any, dict[str, Any], dict[str, Any], Account, Account]:
    """alice (50) and bob, both accounts in the writer's cache after a committed move."""
    alice, bob, source, target = await _funded_pair(client, 60)
    ledger = services(client).ledger
    await ledger.commit_move(_movement(source, target, 10, alice["user"]["id"]))
    cache = ledger._writer.cache
    assert cache.get(source.id)["balance"] == 50 and cache.get(target.id)["balance"] == 10
    return ledger, alice, bob, source, target


async def test_a_stale_cached_balance_is_retried_from_a_read_with_exact_balances(client):
    """Bug guarded: the writer skips its read when this process committed both accounts
    last (account_cache.py); a balance changed by someone else since (another process, a
    direct write) must make the conditional debit miss and the move retry from a real read,
    never write over the change nor record a wrong `*_balance_after`."""
    ledger, alice, bob, source, target = await _cached_pair(client)
    accounts = Account.get_pymongo_collection()
    await accounts.update_one({"_id": source.id}, {"$inc": {"balance": 5}})  # behind our back
    moved = await ledger.commit_move(_movement(source, target, 20, alice["user"]["id"]))
    assert moved.transfer.from_balance_after == 35 and moved.transfer.to_balance_after == 30
    assert await balance(client, alice) == 35 and await balance(client, bob) == 30
    assert ledger._writer.cache.get(source.id)["balance"] == 35
    await accounts.update_one({"_id": source.id}, {"$inc": {"balance": -5}})  # undo for audit
    await ledger.commit_move(_movement(source, target, 1, alice["user"]["id"]))
    assert (await run_audit()).ok


async def test_a_cached_balance_never_decides_an_error(client):
    """Bug guarded: errors come from a real read only. A cached balance lower than the real
    one (another api process credited the account) must not answer INSUFFICIENT_FUNDS, and
    an account frozen behind the cache's back answers WALLET_FROZEN (the conditional debit
    misses, the retry reads)."""
    ledger, alice, _bob, source, target = await _cached_pair(client)
    svc = services(client)
    other_process = Ledger(mongo=svc.mongo, bus=svc.bus)  # its own cache
    issuer = await other_process.issuer_account()
    await other_process.commit_move(
        replace(_movement(issuer, source, 100, alice["user"]["id"]), kind="mint")
    )
    moved = await ledger.commit_move(_movement(source, target, 120, alice["user"]["id"]))
    assert moved.transfer.from_balance_after == 30
    accounts = Account.get_pymongo_collection()
    await accounts.update_one({"_id": source.id}, {"$set": {"frozen": True}})
    with pytest.raises(WalletFrozen):
        await ledger.commit_move(_movement(source, target, 1, alice["user"]["id"]))
    assert ledger._writer.cache.get(source.id) is None
    await accounts.update_one({"_id": source.id}, {"$set": {"frozen": False}})
    assert await balance(client, alice) == 30
    assert (await run_audit()).ok
