"""Issue 15 F7 in one process: a wallet whose lock another transaction holds.

A process killed mid-transfer leaves its locks until the transaction lifetime ends; here a
transaction this test keeps open plays that dead process. The kill -9 run itself is
tests/e2e/test_hardening_kill.py.
"""

from __future__ import annotations

import uuid

import pytest
from bson import ObjectId

from server.core.clock import utcnow
from server.wallet.documents import Account
from server.wallet.transactions import BusyAccounts
from tests.helpers import assert_error, services
from tests.integration.wallet_support import admin, balance, mint, verified_user

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_busy_accounts_are_remembered_for_a_while_only():
    clock = Clock()
    busy = BusyAccounts(seconds=2.0, clock=clock)
    a, b = ObjectId(), ObjectId()
    busy.mark(a)
    assert busy.is_busy(a) and busy.is_busy(b, a) and not busy.is_busy(b)
    clock.now += 2.5
    assert not busy.is_busy(a)
    assert len(busy) == 0  # forgotten, not kept forever


async def _wallet_id(client, user) -> ObjectId:
    wallet = await client.get("/api/v1/wallet", headers=user["headers"])
    return ObjectId(wallet.json()["accountId"])


async def test_a_locked_wallet_answers_503_wallet_busy_and_the_same_key_runs_once_after(
    app_factory,
):
    """F7: a transfer on accounts whose lock a dead process held retried for ~20 s and then
    answered 500. Now it answers 503 WALLET_BUSY with Retry-After after LEDGER_BUSY_SECONDS,
    the next transfer on those accounts answers at once (BusyAccounts), the idempotency
    store keeps no record of the 503, and the retry with the same key moves tokens once."""
    async with app_factory(ledger_busy_seconds=0.3, wallet_require_verified_email=False) as client:
        boss = await admin(client)
        alice, bob = await verified_user(client), await verified_user(client)
        await mint(client, boss, alice["user"]["username"], 50)
        svc = services(client)
        runner = svc.wallet._ledger.runner
        account = await _wallet_id(client, alice)
        headers = {**alice["headers"], "Idempotency-Key": uuid.uuid4().hex}
        body = {"to": {"username": bob["user"]["username"]}, "amount": 5}

        holder = svc.mongo.start_session()
        await holder.start_transaction()
        await Account.get_pymongo_collection().update_one(
            {"_id": account}, {"$set": {"updated_at": utcnow()}}, session=holder
        )
        try:
            busy = await client.post("/api/v1/wallet/transfers", json=body, headers=headers)
            assert_error(busy, 503, "WALLET_BUSY")
            assert busy.headers["retry-after"] == "2"
            assert runner.busy.is_busy(account)
            other = await client.post(
                "/api/v1/wallet/transfers",
                json=body,
                headers={**alice["headers"], "Idempotency-Key": uuid.uuid4().hex},
            )
            assert_error(other, 503, "WALLET_BUSY")
        finally:
            await holder.abort_transaction()
            await holder.end_session()

        runner.busy = BusyAccounts(seconds=2.0)  # the 2 s have passed
        retried = await client.post("/api/v1/wallet/transfers", json=body, headers=headers)
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers  # ran now, not a stored 503
        again = await client.post("/api/v1/wallet/transfers", json=body, headers=headers)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert await balance(client, alice) == 45
        assert await balance(client, bob) == 5
