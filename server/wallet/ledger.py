"""The ledger: accounts and the one method that moves tokens.

`Ledger` is a collaborator, injected into the wallet, shop and group managers (never a
base class), and takes intents those managers have already authorised. It is not reachable
from routes or agent tools: they hold the `WalletManager` facade, which does not expose
`move`, `freeze_account` or `open_account`.

`move(tx, movement)` is the only code that changes a balance. It checks the movement itself
(amount range, kind, self-transfer; funds, frozen and closed accounts in its conditional
writes), writes in the caller's transaction and queues `wallet.transfer_completed` on `tx`,
so the event goes out only if that transaction commits. The moved hooks (notifications)
start after the commit, in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.core.channels import owner_channel
from server.core.clock import utcnow
from server.core.db import Publisher, Tx
from server.core.errors import Conflict
from server.wallet.documents import ISSUER_OWNER_ID, OWNER_TYPES, TRANSFER_KINDS, Account, Transfer
from server.wallet.errors import (
    AccountNotFound,
    SelfTransfer,
)
from server.wallet.events import TRANSFER_COMPLETED, WALLET_FROZEN, WALLET_UNFROZEN
from server.wallet.hooks import FrozenHook, LedgerHooks, MovedHook
from server.wallet.idempotency import KeyReused
from server.wallet.movement import Moved, Movement, check_amount
from server.wallet.schemas import TransferCompletedEvent, TransferView, WalletFrozenEvent
from server.wallet.transactions import LedgerRunner
from server.wallet.views import TransferViews
from server.wallet.writes import AlsoInsert, MovementWriter

log = logging.getLogger("server.wallet")
T = TypeVar("T")


def _account(doc: dict[str, Any]) -> Account:
    return Account.model_validate(doc)


class Ledger:
    """Accounts and money movement for already-authorised intents (no `Actor` checks)."""

    def __init__(
        self, *, mongo: AsyncMongoClient[Any], bus: Publisher, busy_seconds: float = 10.0
    ) -> None:
        self._mongo = mongo
        self._bus = bus
        self._issuer_id: ObjectId | None = None
        self.views = TransferViews()
        self.runner = LedgerRunner(mongo, bus, busy_seconds=busy_seconds)
        self.account_locks = self.runner.locks
        self.hooks = LedgerHooks()
        self._writer = MovementWriter(mongo)

    def add_moved_hook(self, hook: MovedHook) -> None:
        """Call `hook(moved)` after each committed new transfer (see server/wallet/hooks.py)."""
        self.hooks.moved.append(hook)

    def add_frozen_hook(self, hook: FrozenHook) -> None:
        """Call `hook(account)` after each committed freeze or unfreeze."""
        self.hooks.frozen.append(hook)

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work(tx)` in one transaction with the ledger's retry policy; what `work`
        queued on `tx` (events, after-commit steps) runs once it committed; 503
        `WALLET_BUSY` after `busy_seconds` of conflicts (server/wallet/transactions.py)."""
        return await self.runner.run(work)

    async def run_on(self, accounts: tuple[ObjectId, ...], work: Callable[[Tx], Awaitable[T]]) -> T:
        """`run` for a transaction writing `accounts`: queued on their in-process locks,
        refused at once while one of them is known busy."""
        return await self.runner.run_on(accounts, work)

    # -------------------------------------------------------------- accounts

    @property
    def _accounts(self) -> Any:
        return Account.get_pymongo_collection()

    @property
    def _transfers(self) -> Any:
        return Transfer.get_pymongo_collection()

    async def open_account(
        self,
        owner_type: str,
        owner_id: ObjectId,
        *,
        session: AsyncClientSession | None = None,
        username: str | None = None,
    ) -> Account:
        """The owner's account, created with balance 0 if it does not exist yet (idempotent).

        Families and workspaces call this inside their creation transaction (`session=`).
        One upsert, so it never aborts the caller's transaction on a duplicate.
        `username` (user accounts) lets transfers find the recipient in one read.
        """
        if owner_type not in OWNER_TYPES:
            raise ValueError(f"unknown owner type {owner_type!r}")
        now = utcnow()
        update: dict[str, Any] = {}
        if username is not None:
            update["$set"] = {"username": username}
        doc = await self._accounts.find_one_and_update(
            {"owner_type": owner_type, "owner_id": ObjectId(owner_id)},
            {
                **update,
                "$setOnInsert": {
                    "balance": 0,
                    "frozen": False,
                    "frozen_reason": None,
                    "frozen_at": None,
                    "closed": False,
                    "created_at": now,
                    "updated_at": now,
                },
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        self._writer.cache.drop(doc["_id"])  # e.g. a username set: read it again
        return _account(doc)

    async def issuer_account(self) -> Account:
        """The system account tokens are minted from and burned into (created on first use)."""
        account = await self.open_account("system", ISSUER_OWNER_ID)
        self._issuer_id = account.id
        return account

    async def get_account(
        self, account_id: ObjectId | str, *, session: AsyncClientSession | None = None
    ) -> Account | None:
        """An account by id (no permission check: for managers, not for clients)."""
        if not ObjectId.is_valid(account_id):
            return None
        doc = await self._accounts.find_one({"_id": ObjectId(account_id)}, session=session)
        return _account(doc) if doc else None

    async def account_for(
        self, owner_type: str, owner_id: ObjectId, *, session: AsyncClientSession | None = None
    ) -> Account | None:
        """The account of an owner, or `None`."""
        doc = await self._accounts.find_one(
            {"owner_type": owner_type, "owner_id": ObjectId(owner_id)}, session=session
        )
        return _account(doc) if doc else None

    async def freeze_account(self, tx: Tx, account_id: ObjectId, *, reason: str) -> Account:
        """Freeze an account (already authorised by the caller): it refuses every debit.
        `wallet.frozen` goes to the owner's channel once `tx` commits."""
        return await self._set_frozen(tx, account_id, True, reason)

    async def unfreeze_account(
        self, tx: Tx, account_id: ObjectId, *, announce: bool = True
    ) -> Account:
        """Lift a freeze (already authorised by the caller); `wallet.unfrozen` on commit
        unless `announce=False` (a wallet unfrozen only to be paid out and closed)."""
        return await self._set_frozen(tx, account_id, False, None, announce=announce)

    async def _set_frozen(
        self,
        tx: Tx,
        account_id: ObjectId,
        frozen: bool,
        reason: str | None,
        *,
        announce: bool = True,
    ) -> Account:
        doc = await self._accounts.find_one_and_update(
            {"_id": ObjectId(account_id), "owner_type": {"$ne": "system"}},
            {
                "$set": {
                    "frozen": frozen,
                    "frozen_reason": reason,
                    "frozen_at": utcnow() if frozen else None,
                    "updated_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
            session=tx.session,
        )
        if doc is None:
            raise AccountNotFound("No such account.")
        account = _account(doc)
        self._writer.cache.drop(account.id)  # type: ignore[arg-type]
        if not announce:
            return account
        channel = owner_channel(account.owner_type, account.owner_id)
        if channel is not None:
            tx.publish(
                channel,
                WALLET_FROZEN if frozen else WALLET_UNFROZEN,
                WalletFrozenEvent(
                    account_id=str(account.id), frozen=frozen, reason=account.frozen_reason
                ),
            )
        self._after_commit(tx, lambda: self.hooks.after_frozen(account))
        return account

    async def close_account(self, tx: Tx, account_id: ObjectId) -> Account:
        """Close an empty account (a deleted family/workspace): it refuses debits and credits.

        Pay the balance out with `move` first (same transaction is fine); a non-empty account
        answers 409 `WALLET_NOT_EMPTY`.
        """
        doc = await self._accounts.find_one_and_update(
            {"_id": ObjectId(account_id), "balance": 0, "owner_type": {"$ne": "system"}},
            {"$set": {"closed": True, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
            session=tx.session,
        )
        if doc is None:
            if await self.get_account(account_id, session=tx.session) is None:
                raise AccountNotFound("No such account.")
            raise Conflict("The wallet still holds tokens.", code="WALLET_NOT_EMPTY")
        self._writer.cache.drop(doc["_id"])
        return _account(doc)

    # -------------------------------------------------------------- moving tokens

    async def move(self, tx: Tx, movement: Movement, *, also: AlsoInsert | None = None) -> Moved:
        """Move tokens in `tx`: conditional debit, credit and the immutable `Transfer`.

        The writes go out in one round trip (server/wallet/writes.py); `also(moved)` may add
        the caller's own inserts to it (the wallet's idempotency record).

        Checks the movement once, here: `INVALID_AMOUNT`, `SELF_TRANSFER`, an unknown kind
        (a programming error: `ValueError`); then, in the writes, `INSUFFICIENT_FUNDS`,
        `WALLET_FROZEN`, `WALLET_CLOSED`, `ACCOUNT_NOT_FOUND` (debit side),
        `RECIPIENT_NOT_FOUND`. Queues `wallet.transfer_completed` for both owners and the
        moved hooks on `tx`. A key used before raises `DuplicateKeyError` (the transaction
        aborts; `commit_move` answers the first transfer instead).
        """
        check_amount(movement.amount)
        if movement.kind not in TRANSFER_KINDS:
            raise ValueError(f"unknown transfer kind {movement.kind!r}")
        if ObjectId(movement.from_account) == ObjectId(movement.to_account):
            raise SelfTransfer("Tokens cannot be sent to the same wallet.")
        issuer = ObjectId(movement.from_account) == await self._issuer()
        moved = await self._writer.write(tx, movement, unlimited=issuer, also=also)
        self.views.remember_account(moved.from_account)
        self.views.remember_account(moved.to_account)
        await self._queue_events(tx, moved)
        return moved

    async def commit_move(self, movement: Movement) -> Moved:
        """`move` in a transaction of its own (retried on conflicts, events after commit).

        A key that was already used answers the original transfer (`replayed=True`) if the
        intent is the same, else 409 `IDEMPOTENCY_KEY_REUSED`; nothing is published then.
        """
        try:
            accounts = (movement.from_account, movement.to_account)
            return await self.run_on(accounts, lambda tx: self.move(tx, movement))
        except DuplicateKeyError:
            return await self._replay_movement(movement)

    async def _issuer(self) -> ObjectId:
        if self._issuer_id is None:
            account = await self.issuer_account()
            assert account.id is not None
            return ObjectId(account.id)
        return self._issuer_id

    async def _replay_movement(self, m: Movement) -> Moved:
        doc = await self._transfers.find_one({"idempotency_key": m.idempotency_key})
        if doc is None:  # the duplicate was something else; nothing was written
            raise Conflict("The transfer could not be recorded.", code="TRANSFER_CONFLICT")
        transfer = Transfer.model_validate(doc)
        same = (
            transfer.from_account == m.from_account
            and transfer.to_account == m.to_account
            and transfer.amount == m.amount
            and transfer.kind == m.kind
        )
        if not same:
            raise KeyReused("This idempotency key was already used for another transfer.")
        source = await self.get_account(transfer.from_account)
        target = await self.get_account(transfer.to_account)
        assert source is not None and target is not None
        return Moved(transfer=transfer, from_account=source, to_account=target, replayed=True)

    async def _queue_events(self, tx: Tx, moved: Moved) -> None:
        """`wallet.transfer_completed` to both parties' channels, each with its own balance
        right after the transfer, then the moved hooks; all once `tx` commits."""
        t = moved.transfer
        for account, balance in (
            (moved.from_account, t.from_balance_after),
            (moved.to_account, t.to_balance_after),
        ):
            channel = owner_channel(account.owner_type, account.owner_id)
            if channel is None:
                continue
            view = await self.views.view(t, viewer=account.id)
            tx.publish(
                channel,
                TRANSFER_COMPLETED,
                TransferCompletedEvent(transfer=view, account_id=str(account.id), balance=balance),
            )
        self._after_commit(tx, lambda: self.hooks.after_moved(moved))

    @staticmethod
    def _after_commit(tx: Tx, start: Callable[[], None]) -> None:
        async def step() -> None:
            start()

        tx.after_commit(step)

    async def transfer_view(self, t: Transfer, *, viewer: ObjectId | None = None) -> TransferView:
        return await self.views.view(t, viewer=viewer)
