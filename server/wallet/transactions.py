"""The ledger's transactions under a bounded wait, and the accounts known busy (issue 15, F7).

A process killed mid-transfer leaves its database locks on both accounts until the
transaction lifetime ends (~60 s in SecantusDB); every transfer touching them conflicts
until then. `LedgerRunner.run` retries for at most `busy_seconds`, then answers 503
`WALLET_BUSY` with `Retry-After`. `BusyAccounts` remembers such accounts for a short while
so a burst queued behind them answers at once instead of each waiting out the bound.
Nothing was written by a busy answer; the client's retry with the same Idempotency-Key
runs once (the idempotency store never stores a 5xx).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import AsyncMongoClient

from server.core.db import Publisher, TransactionBusy, Tx, run_in_transaction
from server.wallet.locks import KeyedLocks

T = TypeVar("T")

# Transactions on one hot account conflict; the ledger retries them more than most.
LEDGER_TX_ATTEMPTS = 60
BUSY_MEMORY_SECONDS = 2.0


class WalletBusy(TransactionBusy):
    code = "WALLET_BUSY"

    def __init__(self) -> None:
        super().__init__("The wallet is busy with another transfer; retry shortly.")


class BusyAccounts:
    """Accounts whose last transaction ran out of time, remembered for `seconds`."""

    def __init__(
        self, seconds: float = BUSY_MEMORY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._until: dict[Hashable, float] = {}

    def mark(self, *accounts: Hashable) -> None:
        until = self._clock() + self._seconds
        for account in accounts:
            self._until[account] = until

    def is_busy(self, *accounts: Hashable) -> bool:
        now = self._clock()
        for account in accounts:
            until = self._until.get(account)
            if until is None:
                continue
            if until > now:
                return True
            del self._until[account]
        return False

    def __len__(self) -> int:
        return len(self._until)


class LedgerRunner:
    """Runs ledger transactions: per-account locks, bounded retries, busy accounts."""

    def __init__(
        self, mongo: AsyncMongoClient[Any], bus: Publisher, *, busy_seconds: float = 10.0
    ) -> None:
        self._mongo = mongo
        self._bus = bus
        self.busy_seconds = busy_seconds
        self.locks = KeyedLocks()
        self.busy = BusyAccounts()

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """`work(tx)` in one transaction; 503 `WALLET_BUSY` once `busy_seconds` ran out."""
        try:
            return await run_in_transaction(
                self._mongo,
                work,
                publisher=self._bus,
                attempts=LEDGER_TX_ATTEMPTS,
                max_seconds=self.busy_seconds,
            )
        except WalletBusy:
            raise
        except TransactionBusy as exc:
            raise WalletBusy() from exc

    async def run_on(self, accounts: tuple[ObjectId, ...], work: Callable[[Tx], Awaitable[T]]) -> T:
        """`run(work)` for a transaction that writes `accounts`: queued on their in-process
        locks, refused at once (503 `WALLET_BUSY`) while one of them is known busy."""
        if self.busy.is_busy(*accounts):
            raise WalletBusy()
        async with self.locks.hold(*accounts):
            if self.busy.is_busy(*accounts):
                raise WalletBusy()
            try:
                return await self.run(work)
            except WalletBusy:
                self.busy.mark(*accounts)
                raise
