"""`WalletManager`: the wallet's facade for routes, agent tools and other managers.

Its methods take an `Actor`, check what that actor may do, go through the idempotency store
and then ask the injected `Ledger` (ledger.py) to move tokens. It does not expose the
ledger's trusted methods (`move`, `freeze_account`, `open_account`): routes and tools hold
this object, so they cannot reach an unchecked movement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import BadRequest, Forbidden, NotFound
from server.core.wire import validate
from server.wallet.admin import WalletAdmin
from server.wallet.directory import AccountDirectory
from server.wallet.documents import Account, Transfer
from server.wallet.errors import (
    AccountNotFound,
    EmailNotVerified,
    InsufficientFunds,
    InvalidAmount,
    RecipientNotFound,
    SelfTransfer,
    WalletClosed,
    WalletFrozen,
)
from server.wallet.idempotency import IdempotencyStore, Outcome, Recorder, check_key
from server.wallet.ledger import Ledger
from server.wallet.movement import Moved, Movement, check_amount
from server.wallet.schemas import (
    AuditReport,
    MintRequest,
    OwnerView,
    Party,
    RewardResponse,
    TransferPage,
    TransferRequest,
    TransferResponse,
    TransferView,
    WalletView,
)
from server.wallet.views import wallet_view

__all__ = [
    "AccountNotFound",
    "EmailNotVerified",
    "InsufficientFunds",
    "InvalidAmount",
    "Moved",
    "Movement",
    "RecipientNotFound",
    "SelfTransfer",
    "WalletClosed",
    "WalletFrozen",
    "WalletManager",
]


class WalletManager:
    """The wallet's permission-checked methods, on top of an injected `Ledger`.

    Account lookups live in `AccountDirectory` (directory.py), the administrators' actions
    and the reward callback in `WalletAdmin` (admin.py); this facade delegates to them, so
    routes, tools and other managers hold one object.
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        mongo: AsyncMongoClient[Any],
        idempotency_ttl_seconds: int = 24 * 3600,
        require_verified_email: bool = True,
        reward_secret: str = "",
    ) -> None:
        self._ledger = ledger
        self.idempotency = IdempotencyStore(mongo, ttl_seconds=idempotency_ttl_seconds)
        self.directory = AccountDirectory(
            ledger=ledger, require_verified_email=require_verified_email
        )
        self.admin = WalletAdmin(
            ledger=ledger, directory=self.directory, reward_secret=reward_secret
        )

    @property
    def _transfers(self) -> Any:
        return Transfer.get_pymongo_collection()

    # -------------------------------------------------------------- accounts (directory.py)

    async def on_user_created(self, user: User, session: AsyncClientSession) -> None:
        """The `AuthManager` user-created hook: every user gets an account at registration."""
        await self.directory.on_user_created(user, session)

    async def user_account(self, user_id: ObjectId, *, username: str | None = None) -> Account:
        """The user's account (opened on the fly for users created before the wallet)."""
        return await self.directory.user_account(user_id, username=username)

    async def user_account_id(self, user_id: ObjectId) -> ObjectId:
        """The id of the user's account (cached: it never changes)."""
        return await self.directory.user_account_id(user_id)

    async def require_verified(self, actor: Actor) -> None:
        """403 `EMAIL_NOT_VERIFIED` unless the actor may move money (verified e-mail)."""
        await self.directory.require_verified(actor)

    async def resolve_party(self, party: Party) -> Account:
        """The account named by `{username}` or `{accountId}`, else `RECIPIENT_NOT_FOUND`."""
        return await self.directory.resolve_party(party)

    async def my_wallet(self, actor: Actor) -> WalletView:
        require_scope(actor, "wallet:read")
        return wallet_view(await self.user_account(actor.user_id))

    # -------------------------------------------------------------- moving tokens

    async def transfer(
        self, actor: Actor, cmd: TransferRequest, *, idempotency_key: str | None
    ) -> Outcome[TransferResponse]:
        """Send tokens from the actor's own wallet to a user or wallet (idempotent by key).

        Errors: `IDEMPOTENCY_KEY_REQUIRED`, `IDEMPOTENCY_KEY_REUSED`, `INVALID_AMOUNT`,
        `SELF_TRANSFER`, `RECIPIENT_NOT_FOUND`, `INSUFFICIENT_FUNDS`, `WALLET_FROZEN`,
        `EMAIL_NOT_VERIFIED`; 403 `INSUFFICIENT_SCOPE` for a token without `wallet:transfer`.
        """
        cmd = validate(cmd)
        require_scope(actor, "wallet:transfer")
        key = check_key(idempotency_key)

        async def operation(rec: Recorder) -> TransferResponse:
            amount = check_amount(cmd.amount)
            await self.directory.require_verified(actor)
            target = await self.resolve_party(cmd.to)
            source_id = await self.user_account_id(actor.user_id)
            self._ledger.views.remember(source_id, OwnerView(type="user", id=str(actor.user_id)))
            self._ledger.views.remember_account(target)
            movement = Movement(
                from_account=source_id,
                to_account=target.id,  # type: ignore[arg-type]
                amount=amount,
                kind="transfer",
                idempotency_key=rec.record_id,
                actor_id=actor.user_id,
                memo=cmd.memo,
            )
            return await self._move_recorded(movement, rec, viewer=source_id)

        # No pre-read of the record: every path of `operation` ends in the transaction that
        # inserts it (a repeat hits the unique record and is answered from it).
        return await self.idempotency.run(
            prefetch=False,
            scope="wallet.transfer",
            actor_id=actor.user_id,
            key=key,
            params=cmd,
            result_type=TransferResponse,
            operation=operation,
        )

    async def _move_recorded(
        self, movement: Movement, rec: Recorder, *, viewer: ObjectId
    ) -> TransferResponse:
        """The ledger's `move` plus the idempotency record, in one transaction and in the
        same round trip as the movement's own writes (`also`)."""
        answer: list[TransferResponse] = []

        async def record(moved: Moved) -> list[InsertOne[Any]]:
            balance = (
                moved.transfer.from_balance_after
                if viewer == movement.from_account
                else moved.transfer.to_balance_after
            )
            response = TransferResponse(
                transfer=await self._ledger.transfer_view(moved.transfer, viewer=viewer),
                balance=balance,
            )
            answer[:] = [response]
            return [rec.insert_op(response)]

        async def work(tx: Tx) -> TransferResponse:
            await self._ledger.move(tx, movement, also=record)
            return answer[0]

        accounts = (movement.from_account, movement.to_account)
        return await self._ledger.run_on(accounts, work)

    async def mint(
        self, actor: Actor, cmd: MintRequest, *, idempotency_key: str | None
    ) -> Outcome[TransferResponse]:
        """Admins only: create tokens out of the issuer account into a user or wallet."""
        cmd = validate(cmd)
        require_scope(actor, "wallet:admin")
        if not actor.is_admin:
            raise Forbidden("Only administrators can mint tokens.")
        key = check_key(idempotency_key)

        async def operation(rec: Recorder) -> TransferResponse:
            amount = check_amount(cmd.amount)
            target = await self.resolve_party(cmd.to)
            issuer = await self._ledger.issuer_account()
            self._ledger.views.remember_account(issuer)
            self._ledger.views.remember_account(target)
            movement = Movement(
                from_account=issuer.id,  # type: ignore[arg-type]
                to_account=target.id,  # type: ignore[arg-type]
                amount=amount,
                kind="mint",
                idempotency_key=rec.record_id,
                actor_id=actor.user_id,
                memo=cmd.reason,
            )
            return await self._move_recorded(movement, rec, viewer=target.id)  # type: ignore[arg-type]

        return await self.idempotency.run(
            prefetch=False,
            scope="wallet.mint",
            actor_id=actor.user_id,
            key=key,
            params=cmd,
            result_type=TransferResponse,
            operation=operation,
        )

    async def list_transfers(
        self, actor: Actor, *, limit: int = 50, cursor: str | None = None
    ) -> TransferPage:
        """The actor's transfers, newest first; `cursor` = the last id of the previous page."""
        require_scope(actor, "wallet:read")
        account = await self.user_account(actor.user_id)
        return await self.account_transfers(account.id, limit=limit, cursor=cursor)  # type: ignore[arg-type]

    async def account_transfers(
        self, account_id: ObjectId, *, limit: int = 50, cursor: str | None = None
    ) -> TransferPage:
        """Transfers of one account, newest first (no permission check: for managers).

        Ordered by `created_at`, then id: ids come from whichever process wrote the transfer
        (two api processes, the CLI), and ObjectIds of different processes made in the same
        second do not sort in the order they were made."""
        limit = max(1, min(int(limit), 200))
        query: dict[str, Any] = {"accounts": ObjectId(account_id)}
        if cursor:
            last = (
                await self._transfers.find_one(
                    {"_id": ObjectId(cursor), "accounts": query["accounts"]},
                    projection={"created_at": 1},
                )
                if ObjectId.is_valid(cursor)
                else None
            )
            if last is None:
                raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
            at = last["created_at"]
            query["$or"] = [
                {"created_at": {"$lt": at}},
                {"created_at": at, "_id": {"$lt": last["_id"]}},
            ]
        docs = (
            await self._transfers.find(query)
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit + 1)
            .to_list()
        )
        more = len(docs) > limit
        docs = docs[:limit]
        items = [
            await self._ledger.transfer_view(Transfer.model_validate(d), viewer=account_id)
            for d in docs
        ]
        return TransferPage(items=items, next_cursor=items[-1].id if more and items else None)

    async def get_transfer(self, actor: Actor, transfer_id: str) -> TransferView:
        """One of the actor's transfers (404 for anyone else's, to reveal nothing)."""
        require_scope(actor, "wallet:read")
        account = await self.user_account(actor.user_id)
        doc = None
        if ObjectId.is_valid(transfer_id):
            doc = await self._transfers.find_one(
                {"_id": ObjectId(transfer_id), "accounts": account.id}
            )
        if doc is None:
            raise NotFound("No such transfer.", code="TRANSFER_NOT_FOUND")
        return await self._ledger.transfer_view(Transfer.model_validate(doc), viewer=account.id)

    async def transfers_by_correlation(self, correlation_id: str) -> Sequence[Transfer]:
        """Every leg of one multi-leg operation (for managers)."""
        docs = await self._transfers.find({"correlation_id": correlation_id}).to_list()
        return [Transfer.model_validate(d) for d in docs]

    # -------------------------------------------------------------- admin (admin.py)

    async def audit(self, actor: Actor) -> AuditReport:
        """Admins only: the ledger audit (see `server.wallet.audit`)."""
        return await self.admin.audit(actor)

    async def admin_account(self, actor: Actor, account_id: str) -> WalletView:
        return await self.admin.admin_account(actor, account_id)

    async def admin_set_frozen(
        self, actor: Actor, account_id: str, *, frozen: bool, reason: str | None = None
    ) -> WalletView:
        """Admins only: freeze or unfreeze any non-system account."""
        return await self.admin.admin_set_frozen(actor, account_id, frozen=frozen, reason=reason)

    async def reward(self, body: bytes, signature: str | None) -> tuple[RewardResponse, bool]:
        """A signed reward callback: mint to the named user once per `eventId`."""
        return await self.admin.reward(body, signature)
