"""`WalletManager`: the wallet's facade for routes, agent tools and other managers.

Its methods take an `Actor`, check what that actor may do, go through the idempotency store
and then ask the injected `Ledger` (ledger.py) to move tokens. It does not expose the
ledger's trusted methods (`move`, `freeze_account`, `open_account`): routes and tools hold
this object, so they cannot reach an unchecked movement.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from server.core.wire import validate
from server.wallet.audit import run_audit
from server.wallet.documents import ISSUER_OWNER_ID, Account, Transfer
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
from server.wallet.rewards import signature_valid
from server.wallet.schemas import (
    AuditReport,
    MintRequest,
    OwnerView,
    Party,
    RewardCallback,
    RewardResponse,
    TransferPage,
    TransferRequest,
    TransferResponse,
    TransferView,
    WalletView,
)
from server.wallet.views import wallet_view

VERIFIED_CACHE_SECONDS = 300.0
LOOKUP_CACHE_SECONDS = 300.0

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
    """The wallet's permission-checked methods, on top of an injected `Ledger`."""

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
        self.require_verified_email = require_verified_email
        self._reward_secret = reward_secret
        # Immutable or one-way facts, cached to save reads on the hot path: a user's account
        # id never changes; a verified e-mail is trusted for VERIFIED_CACHE_SECONDS.
        self._account_ids: dict[ObjectId, ObjectId] = {}
        self._verified_until: dict[ObjectId, float] = {}
        # username -> (account id, owner id, cached until): usernames are immutable.
        self._by_username: dict[str, tuple[ObjectId, ObjectId, float]] = {}

    @property
    def _transfers(self) -> Any:
        return Transfer.get_pymongo_collection()

    async def on_user_created(self, user: User, session: AsyncClientSession) -> None:
        """The `AuthManager` user-created hook: every user gets an account at registration."""
        await self._ledger.open_account(
            "user",
            user.id,  # type: ignore[arg-type]
            session=session,
            username=user.username,
        )

    # -------------------------------------------------------------- user-facing

    async def user_account(self, user_id: ObjectId, *, username: str | None = None) -> Account:
        """The user's account (opened on the fly for users created before the wallet)."""
        account = await self._ledger.account_for("user", user_id)
        if account is None or (username is not None and account.username is None):
            account = await self._ledger.open_account("user", user_id, username=username)
        self._remember_account_id(user_id, account.id)  # type: ignore[arg-type]
        return account

    def _remember_account_id(self, user_id: ObjectId, account_id: ObjectId) -> None:
        if len(self._account_ids) > 100_000:
            self._account_ids.clear()
        self._account_ids[user_id] = account_id

    async def user_account_id(self, user_id: ObjectId) -> ObjectId:
        """The id of the user's account (cached: it never changes)."""
        cached = self._account_ids.get(user_id)
        if cached is None:
            cached = (await self.user_account(user_id)).id  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    async def my_wallet(self, actor: Actor) -> WalletView:
        require_scope(actor, "wallet:read")
        return wallet_view(await self.user_account(actor.user_id))

    async def require_verified(self, actor: Actor) -> None:
        """403 `EMAIL_NOT_VERIFIED` unless the actor may move money (verified e-mail)."""
        await self._require_verified(actor)

    async def _require_verified(self, actor: Actor) -> None:
        if not self.require_verified_email or actor.auth_method == "system":
            return
        now = time.monotonic()
        if self._verified_until.get(actor.user_id, 0.0) > now:
            return
        doc = await User.get_pymongo_collection().find_one(
            {"_id": actor.user_id}, {"email_verified": 1}
        )
        if doc is None or not doc.get("email_verified"):
            raise EmailNotVerified("Verify your e-mail address before moving tokens.")
        if len(self._verified_until) > 100_000:
            self._verified_until.clear()
        self._verified_until[actor.user_id] = now + VERIFIED_CACHE_SECONDS

    async def resolve_party(self, party: Party) -> Account:
        """The account named by `{username}` or `{accountId}`, else `RECIPIENT_NOT_FOUND`.

        Only its id and owner are reliable (a username hit may come from a short cache);
        read the account again for its balance or state.
        """
        if (party.username is None) == (party.account_id is None):
            raise BadRequest(
                "Name the recipient by exactly one of username or accountId.",
                code="VALIDATION_ERROR",
                details=[{"field": "to", "message": "exactly one of username, accountId"}],
            )
        if party.username is not None:
            name = party.username.strip().lower()
            now = time.monotonic()
            hit = self._by_username.get(name)
            if hit is not None and hit[2] > now:
                return Account(id=hit[0], owner_type="user", owner_id=hit[1], username=name)
            doc = await Account.get_pymongo_collection().find_one(
                {"username": name, "owner_type": "user"}
            )
            if doc is not None:
                if len(self._by_username) > 100_000:
                    self._by_username.clear()
                self._by_username[name] = (doc["_id"], doc["owner_id"], now + LOOKUP_CACHE_SECONDS)
                return Account.model_validate(doc)
            # Accounts opened before they carried the username: look the user up.
            user = await User.get_pymongo_collection().find_one(
                {"username": name, "is_active": True}, {"_id": 1}
            )
            if user is None:
                raise RecipientNotFound("No user with this username.")
            return await self.user_account(user["_id"], username=name)
        account = await self._ledger.get_account(party.account_id)  # type: ignore[arg-type]
        if account is None or account.is_system:
            raise RecipientNotFound("No wallet with this account id.")
        return account

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
            await self._require_verified(actor)
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
        """The ledger's `move` plus the idempotency record, in one transaction."""

        async def work(tx: Tx) -> TransferResponse:
            moved = await self._ledger.move(tx, movement)
            balance = (
                moved.transfer.from_balance_after
                if viewer == movement.from_account
                else moved.transfer.to_balance_after
            )
            response = TransferResponse(
                transfer=await self._ledger.transfer_view(moved.transfer, viewer=viewer),
                balance=balance,
            )
            await rec.save(tx.session, response)
            return response

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
        """Transfers of one account, newest first (no permission check: for managers)."""
        limit = max(1, min(int(limit), 200))
        query: dict[str, Any] = {"accounts": ObjectId(account_id)}
        if cursor:
            if not ObjectId.is_valid(cursor):
                raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
            query["_id"] = {"$lt": ObjectId(cursor)}
        docs = await self._transfers.find(query).sort("_id", -1).limit(limit + 1).to_list()
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

    # -------------------------------------------------------------- admin and callbacks

    async def audit(self, actor: Actor) -> AuditReport:
        """Admins only: the ledger audit (see `server.wallet.audit`)."""
        require_scope(actor, "wallet:admin")
        if not actor.is_admin:
            raise Forbidden("Only administrators can audit the ledger.")
        return await run_audit()

    async def admin_account(self, actor: Actor, account_id: str) -> WalletView:
        require_scope(actor, "wallet:admin")
        if not actor.is_admin:
            raise Forbidden("Only administrators can inspect other wallets.")
        account = await self._ledger.get_account(account_id)
        if account is None:
            raise AccountNotFound("No such account.")
        return wallet_view(account, with_owner=True)

    async def admin_set_frozen(
        self, actor: Actor, account_id: str, *, frozen: bool, reason: str | None = None
    ) -> WalletView:
        """Admins only: freeze or unfreeze any non-system account."""
        require_scope(actor, "wallet:admin")
        if not actor.is_admin:
            raise Forbidden("Only administrators can freeze wallets.")
        if not ObjectId.is_valid(account_id):
            raise AccountNotFound("No such account.")
        oid, ledger = ObjectId(account_id), self._ledger

        async def work(tx: Tx) -> Account:
            if frozen:
                return await ledger.freeze_account(tx, oid, reason=reason or "")
            return await ledger.unfreeze_account(tx, oid)

        return wallet_view(await ledger.run(work), with_owner=True)

    async def reward(self, body: bytes, signature: str | None) -> tuple[RewardResponse, bool]:
        """A signed reward callback: mint to the named user once per `eventId`.

        Returns the response and whether it was new. 503 `REWARDS_DISABLED` without a
        secret, 401 `INVALID_SIGNATURE` for a bad or missing signature.
        """
        if not self._reward_secret:
            raise ServiceUnavailable(
                "Reward callbacks are not configured.", code="REWARDS_DISABLED"
            )
        if not signature_valid(self._reward_secret, body, signature):
            raise Unauthorized("The signature is not valid.", code="INVALID_SIGNATURE")
        try:
            cmd = msgspec.json.decode(body, type=RewardCallback)
        except msgspec.DecodeError as exc:
            raise Unprocessable(
                "The callback body is not valid.", details=[{"message": str(exc)}]
            ) from exc
        amount = check_amount(cmd.amount)
        if (cmd.username is None) == (cmd.user_id is None):
            raise Unprocessable(
                "Name the user by exactly one of username or userId.",
                details=[{"field": "username", "message": "exactly one of username, userId"}],
            )
        if cmd.user_id is not None:
            user = await User.get_pymongo_collection().find_one({"_id": ObjectId(cmd.user_id)})
        else:
            user = await User.get_pymongo_collection().find_one(
                {"username": (cmd.username or "").lower()}
            )
        if user is None:
            raise RecipientNotFound("No such user.")
        target = await self.user_account(user["_id"])
        issuer = await self._ledger.issuer_account()
        moved = await self._ledger.commit_move(
            Movement(
                from_account=issuer.id,  # type: ignore[arg-type]
                to_account=target.id,  # type: ignore[arg-type]
                amount=amount,
                kind="mint",
                idempotency_key=f"reward:{cmd.event_id}",
                actor_id=ISSUER_OWNER_ID,
                memo=cmd.reason or "reward",
                correlation_id=f"reward:{cmd.event_id}",
            )
        )
        view = await self._ledger.transfer_view(moved.transfer, viewer=target.id)
        return RewardResponse(transfer=view, duplicate=moved.replayed), not moved.replayed
