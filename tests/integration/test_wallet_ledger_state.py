"""A Hypothesis state machine over the ledger: the audit invariant holds after every step.

Steps: open accounts, mint, transfer (affordable or not), retry a transfer with its key,
reuse a key with other parameters, freeze and unfreeze. A model of the balances predicts
every outcome; after each step the audit must be clean and every balance match the model.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)
from redis.asyncio import Redis

from realtime.bus import EventBus
from server.compose.catalog import DOCUMENT_MODELS
from server.core.db import init_db, make_client
from server.core.errors import DomainError
from server.wallet.audit import run_audit
from server.wallet.ledger import Ledger
from server.wallet.movement import Movement

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AMOUNTS = st.integers(min_value=1, max_value=60)
URLS: dict[str, str] = {}


async def _cancel_leftovers() -> None:
    """Stop the driver's background tasks before the machine's loop closes."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LedgerMachine(RuleBasedStateMachine):
    accounts = Bundle("accounts")
    done = Bundle("done")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.mongo = make_client(URLS["mongo"])
        self.redis = Redis.from_url(URLS["redis"])
        self.db_name = f"state_{uuid.uuid4().hex[:10]}"
        self.run(init_db(self.mongo, self.db_name, DOCUMENT_MODELS))
        self.ledger = Ledger(mongo=self.mongo, bus=EventBus(self.redis))
        self.issuer = self.run(self.ledger.issuer_account()).id
        self.balances: dict[ObjectId, int] = {}
        self.frozen: set[ObjectId] = set()
        self.minted = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.mongo.drop_database(self.db_name))
        self.run(self.redis.aclose())
        self.run(self.mongo.close())
        self.run(_cancel_leftovers())
        self.loop.close()

    def movement(self, src: ObjectId, dst: ObjectId, amount: int, key: str, kind: str = "transfer"):
        return Movement(
            from_account=src,
            to_account=dst,
            amount=amount,
            kind=kind,
            idempotency_key=key,
            actor_id=ObjectId(),
        )

    def attempt(self, movement: Movement) -> str:
        try:
            moved = self.run(self.ledger.commit_move(movement))
        except DomainError as exc:
            return exc.code
        return "REPLAYED" if moved.replayed else "OK"

    @initialize(target=accounts)
    def first_account(self):
        return self.open()

    @rule(target=accounts)
    def open_account(self):
        return self.open()

    def open(self) -> ObjectId:
        account = self.run(self.ledger.open_account("user", ObjectId()))
        self.balances[account.id] = 0
        return account.id

    @rule(account=accounts, amount=AMOUNTS)
    def mint(self, account, amount):
        key = f"mint:{uuid.uuid4().hex}"
        assert self.attempt(self.movement(self.issuer, account, amount, key, "mint")) == "OK"
        self.balances[account] += amount
        self.minted += amount

    @rule(target=done, src=accounts, dst=accounts, amount=AMOUNTS)
    def transfer(self, src, dst, amount):
        key = f"t:{uuid.uuid4().hex}"
        result = self.attempt(self.movement(src, dst, amount, key))
        if src == dst:
            expected = "SELF_TRANSFER"
        elif src in self.frozen:
            expected = "WALLET_FROZEN"
        elif self.balances[src] < amount:
            expected = "INSUFFICIENT_FUNDS"
        else:
            expected = "OK"
        assert result == expected
        if result == "OK":
            self.balances[src] -= amount
            self.balances[dst] += amount
            return (src, dst, amount, key)
        return None

    @precondition(lambda self: True)
    @rule(previous=done)
    def retry_same_key(self, previous):
        if previous is None:
            return
        src, dst, amount, key = previous
        assert self.attempt(self.movement(src, dst, amount, key)) == "REPLAYED"

    @rule(previous=done, extra=st.integers(min_value=1, max_value=5))
    def reuse_key_with_other_amount(self, previous, extra):
        if previous is None:
            return
        src, dst, amount, key = previous
        assert self.attempt(self.movement(src, dst, amount + extra, key)) == (
            "IDEMPOTENCY_KEY_REUSED"
        )

    @rule(account=accounts)
    def freeze(self, account):
        self.run(self.ledger.run(lambda tx: self.ledger.freeze_account(tx, account, reason="test")))
        self.frozen.add(account)

    @rule(account=consumes(accounts))
    def unfreeze(self, account):
        self.run(self.ledger.run(lambda tx: self.ledger.unfreeze_account(tx, account)))
        self.frozen.discard(account)

    @invariant()
    def audit_is_clean(self):
        report = self.run(run_audit())
        assert report.ok, report
        assert report.mismatches == []
        assert report.total_balance == self.minted == report.minted - report.burned
        for account_id, expected in self.balances.items():
            account = self.run(self.ledger.get_account(account_id))
            assert account.balance == expected >= 0


def test_ledger_state_machine(mongo_url, redis_url):
    URLS.update(mongo=mongo_url, redis=redis_url)
    machine = LedgerMachine.TestCase
    machine.settings = settings(
        max_examples=15,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine().runTest()
