"""The ledger core: accounts and the one method that moves tokens.

`Ledger` takes intents the caller has already authorised. Other managers (families'
spending rules, token-request payouts, shop purchases, family deletion payouts) call it,
alone or inside their own transaction (`session=`), with an idempotency key and a
`correlation_id`. `WalletManager` (manager.py) adds the user-facing, permission-checked
methods on top.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from realtime.bus import EventBus
from server.core.channels import owner_channel
from server.core.db import run_in_transaction
from server.core.errors import Conflict
from server.wallet.documents import (
    ISSUER_OWNER_ID,
    OWNER_TYPES,
    TRANSFER_KINDS,
    Account,
    Transfer,
    utcnow,
)
from server.wallet.errors import (
    AccountNotFound,
    InsufficientFunds,
    InvalidAmount,
    RecipientNotFound,
    SelfTransfer,
    WalletClosed,
    WalletFrozen,
)
from server.wallet.events import TRANSFER_COMPLETED, WALLET_FROZEN, WALLET_UNFROZEN
from server.wallet.hooks import FrozenHook, LedgerHooks, MovedHook
from server.wallet.idempotency import KeyReused
from server.wallet.locks import KeyedLocks
from server.wallet.schemas import (
    MAX_AMOUNT,
    OwnerView,
    TransferCompletedEvent,
    TransferView,
    WalletFrozenEvent,
    WalletView,
)

log = logging.getLogger("server.wallet")
T = TypeVar("T")

# Transactions on one hot account conflict; the ledger retries them more than most.
LEDGER_TX_ATTEMPTS = 60


@dataclass(frozen=True, slots=True)
class Movement:
    """An already-authorised intent to move `amount` tokens between two accounts.

    `idempotency_key` is unique forever across the ledger: a second `move` with the same key
    never moves tokens again (it answers the first transfer, or 409 if the intent differs).
    Internal callers namespace their keys, e.g. `shop:purchase:<id>`, `family:payout:<id>:<n>`.
    `correlation_id` ties the legs of one multi-leg operation together.
    """

    from_account: ObjectId
    to_account: ObjectId
    amount: int
    kind: str
    idempotency_key: str
    actor_id: ObjectId
    memo: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """A committed (or, with `session=`, a pending) transfer and both accounts after it."""

    transfer: Transfer
    from_account: Account
    to_account: Account
    replayed: bool = False


def check_amount(amount: Any) -> int:
    """A positive integer up to 10^12, else `INVALID_AMOUNT` (422)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            "The amount must be a whole number of tokens.",
            details=[{"field": "amount", "message": "must be an integer"}],
        )
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"The amount must be between 1 and {MAX_AMOUNT} tokens.",
            details=[{"field": "amount", "message": f"1..{MAX_AMOUNT}"}],
        )
    return amount


def _account(doc: dict[str, Any]) -> Account:
    return Account.model_validate(doc)


def wallet_view(account: Account, *, with_owner: bool = False) -> WalletView:
    return WalletView(
        account_id=str(account.id),
        balance=account.balance,
        frozen=account.frozen,
        frozen_reason=account.frozen_reason,
        owner=OwnerView(type=account.owner_type, id=str(account.owner_id)) if with_owner else None,
    )


class Ledger:
    """Accounts and money movement for already-authorised intents (no `Actor` checks)."""

    def __init__(self, *, mongo: AsyncMongoClient[Any], bus: EventBus) -> None:
        self._mongo = mongo
        self._bus = bus
        self._issuer_id: ObjectId | None = None
        self._owners: dict[ObjectId, OwnerView] = {}
        self.account_locks = KeyedLocks()
        self.hooks = LedgerHooks()

    def add_moved_hook(self, hook: MovedHook) -> None:
        """Call `hook(moved)` after each committed new transfer (see server/wallet/hooks.py)."""
        self.hooks.moved.append(hook)

    def add_frozen_hook(self, hook: FrozenHook) -> None:
        """Call `hook(account)` after each committed freeze or unfreeze."""
        self.hooks.frozen.append(hook)

    # -------------------------------------------------------------- accounts (core)

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

    async def freeze_account(
        self,
        account_id: ObjectId,
        *,
        reason: str,
        session: AsyncClientSession | None = None,
    ) -> Account:
        """Freeze an account (already authorised by the caller): it refuses every debit.

        Publishes `wallet.frozen` to the owner's channel unless `session` is given (then
        the caller publishes with `publish_frozen` after its commit).
        """
        return await self._set_frozen(account_id, True, reason, session)

    async def unfreeze_account(
        self, account_id: ObjectId, *, session: AsyncClientSession | None = None
    ) -> Account:
        """Lift a freeze (already authorised by the caller). Publishes `wallet.unfrozen`."""
        return await self._set_frozen(account_id, False, None, session)

    async def _set_frozen(
        self,
        account_id: ObjectId,
        frozen: bool,
        reason: str | None,
        session: AsyncClientSession | None,
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
            session=session,
        )
        if doc is None:
            raise AccountNotFound("No such account.")
        account = _account(doc)
        if session is None:
            await self.publish_frozen(account)
        return account

    async def publish_frozen(self, account: Account) -> None:
        channel = owner_channel(account.owner_type, account.owner_id)
        if channel is None:
            return
        await self._bus.publish(
            channel,
            WALLET_FROZEN if account.frozen else WALLET_UNFROZEN,
            WalletFrozenEvent(
                account_id=str(account.id), frozen=account.frozen, reason=account.frozen_reason
            ),
        )
        await self.hooks.run_frozen(account)

    async def close_account(
        self, account_id: ObjectId, *, session: AsyncClientSession | None = None
    ) -> Account:
        """Close an empty account (a deleted family/workspace): it refuses debits and credits.

        Pay the balance out with `move` first (same transaction is fine); a non-empty account
        answers 409 `WALLET_NOT_EMPTY`.
        """
        doc = await self._accounts.find_one_and_update(
            {"_id": ObjectId(account_id), "balance": 0, "owner_type": {"$ne": "system"}},
            {"$set": {"closed": True, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if doc is None:
            if await self.get_account(account_id, session=session) is None:
                raise AccountNotFound("No such account.")
            raise Conflict("The wallet still holds tokens.", code="WALLET_NOT_EMPTY")
        return _account(doc)

    # -------------------------------------------------------------- moving tokens (core)

    async def move(self, movement: Movement, *, session: AsyncClientSession | None = None) -> Moved:
        """Move tokens: conditional debit, credit and the immutable `Transfer`, atomically.

        The intent must already be authorised (this checks only the ledger's own rules:
        amount, self-transfer, funds, frozen/closed accounts).

        - Without `session`: runs its own transaction (retried on transient errors) and
          publishes `wallet.transfer_completed` after the commit. A key that was already
          used answers the original transfer (`replayed=True`) if the intent is the same,
          else 409 `IDEMPOTENCY_KEY_REUSED`.
        - With `session` (the caller's transaction): writes in it and publishes nothing; the
          caller calls `await wallet.publish_moved(moved)` after its commit. A duplicate key
          then raises `DuplicateKeyError` (the caller's transaction is aborted).

        Errors: `INVALID_AMOUNT`, `SELF_TRANSFER`, `INSUFFICIENT_FUNDS`, `WALLET_FROZEN`,
        `WALLET_CLOSED`, `ACCOUNT_NOT_FOUND` (debit side), `RECIPIENT_NOT_FOUND`.
        """
        check_amount(movement.amount)
        if movement.kind not in TRANSFER_KINDS:
            raise ValueError(f"unknown transfer kind {movement.kind!r}")
        if ObjectId(movement.from_account) == ObjectId(movement.to_account):
            raise SelfTransfer("Tokens cannot be sent to the same wallet.")
        if session is not None:
            return await self._apply(movement, session)
        try:
            async with self.account_locks.hold(movement.from_account, movement.to_account):
                moved = await self.transaction(lambda s: self._apply(movement, s))
        except DuplicateKeyError:
            return await self._replay_movement(movement)
        await self.publish_moved(moved)
        return moved

    async def transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run `work(session)` in one transaction with the ledger's retry policy.

        For callers composing several ledger steps (e.g. the legs of a payout with one
        `correlation_id`, or a debit plus a grant): call `move(..., session=s)` inside, then
        `publish_moved` for each result after this returns.
        """
        return await run_in_transaction(self._mongo, work, attempts=LEDGER_TX_ATTEMPTS)

    async def _apply(self, m: Movement, session: AsyncClientSession) -> Moved:
        now = utcnow()
        debit_filter: dict[str, Any] = {
            "_id": ObjectId(m.from_account),
            "frozen": False,
            "closed": False,
        }
        if ObjectId(m.from_account) != await self._issuer():
            debit_filter["balance"] = {"$gte": m.amount}
        source = await self._accounts.find_one_and_update(
            debit_filter,
            {"$inc": {"balance": -m.amount}, "$set": {"updated_at": now}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if source is None:
            await self._explain_failed_debit(m, session)
        target = await self._accounts.find_one_and_update(
            {"_id": ObjectId(m.to_account), "closed": False},
            {"$inc": {"balance": m.amount}, "$set": {"updated_at": now}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if target is None:
            if await self._accounts.find_one({"_id": ObjectId(m.to_account)}, session=session):
                raise WalletClosed("The receiving wallet is closed.")
            raise RecipientNotFound("The recipient does not exist.")
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
            from_balance_after=source["balance"],
            to_balance_after=target["balance"],
            created_at=now,
        )
        await self._transfers.insert_one(
            transfer.model_dump(by_alias=True, exclude={"revision_id"}), session=session
        )
        return Moved(transfer=transfer, from_account=_account(source), to_account=_account(target))

    async def _explain_failed_debit(self, m: Movement, session: AsyncClientSession) -> None:
        doc = await self._accounts.find_one({"_id": ObjectId(m.from_account)}, session=session)
        if doc is None:
            raise AccountNotFound("The paying wallet does not exist.")
        if doc.get("closed"):
            raise WalletClosed("The paying wallet is closed.")
        if doc.get("frozen"):
            raise WalletFrozen(
                "The paying wallet is frozen.",
                details=[{"reason": doc.get("frozen_reason")}] if doc.get("frozen_reason") else [],
            )
        raise InsufficientFunds(
            "The wallet does not hold enough tokens.",
            details=[{"balance": doc["balance"], "amount": m.amount}],
        )

    async def _issuer(self) -> ObjectId:
        if self._issuer_id is None:
            await self.issuer_account()
        return self._issuer_id  # type: ignore[return-value]

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

    async def publish_moved(self, moved: Moved) -> None:
        """Publish `wallet.transfer_completed` to both parties' channels (after the commit),
        then run the moved hooks (`add_moved_hook`; they never fail the movement).

        Each channel gets its own account's balance right after the transfer.
        """
        t = moved.transfer
        for account, balance in (
            (moved.from_account, t.from_balance_after),
            (moved.to_account, t.to_balance_after),
        ):
            channel = owner_channel(account.owner_type, account.owner_id)
            if channel is None:
                continue
            view = await self.transfer_view(t, viewer=account.id)
            await self._bus.publish(
                channel,
                TRANSFER_COMPLETED,
                TransferCompletedEvent(transfer=view, account_id=str(account.id), balance=balance),
            )
        await self.hooks.run_moved(moved)

    # -------------------------------------------------------------- views

    async def _owner(self, account_id: ObjectId) -> OwnerView:
        owner = self._owners.get(account_id)
        if owner is None:
            doc = await self._accounts.find_one(
                {"_id": account_id}, {"owner_type": 1, "owner_id": 1}
            )
            owner = (
                OwnerView(type=doc["owner_type"], id=str(doc["owner_id"]))
                if doc
                else OwnerView(type="unknown", id="")
            )
            if len(self._owners) > 50_000:
                self._owners.clear()
            self._owners[account_id] = owner
        return owner

    def remember_owner(self, account: Account) -> None:
        self._owners[account.id] = OwnerView(  # type: ignore[index]
            type=account.owner_type, id=str(account.owner_id)
        )

    async def transfer_view(self, t: Transfer, *, viewer: ObjectId | None = None) -> TransferView:
        balance_after = None
        if viewer == t.from_account:
            balance_after = t.from_balance_after
        elif viewer == t.to_account:
            balance_after = t.to_balance_after
        return TransferView(
            id=str(t.id),
            kind=t.kind,
            amount=t.amount,
            from_account_id=str(t.from_account),
            to_account_id=str(t.to_account),
            from_owner=await self._owner(t.from_account),
            to_owner=await self._owner(t.to_account),
            actor_id=str(t.actor_id),
            memo=t.memo,
            correlation_id=t.correlation_id,
            created_at=t.created_at,
            balance_after=balance_after,
        )
