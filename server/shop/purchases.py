"""Buying and renting: one transaction for the debit (through the ledger's `move`, kind
`purchase`, into the issuer account: the tokens are burned), the ownership grant, the
purchase record and the idempotency record. If any step fails nothing is written.

Paying from a family or workspace wallet (`payWith`) goes through a *payer* registered with
`register_payer("familyId", payer)`: it answers a `Payment` (which account pays, plus an
optional step inside the purchase transaction) or a `Deferred` (the purchase became a
request for the group's admins: 202). An approved request comes back through `fulfil`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.db import Tx
from server.core.errors import BadRequest, Conflict, Unprocessable
from server.core.ids import stored_id
from server.core.wire import validate
from server.shop.catalogue import Catalogue
from server.shop.documents import Purchase, ShopItem
from server.shop.events import PURCHASE_COMPLETED
from server.shop.inventory import Holdings
from server.shop.schemas import (
    DeferredPurchase,
    PurchaseCompletedEvent,
    PurchasePage,
    PurchaseRequest,
    PurchaseResponse,
    PurchaseView,
)
from server.wallet.idempotency import Outcome, Recorder, check_key
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.wallet.movement import Moved, Movement


class RentalNotOffered(Conflict):
    code = "RENTAL_NOT_OFFERED"


@dataclass(frozen=True, slots=True)
class PurchaseIntent:
    """What a payer is asked to authorise (the shop has checked the item and the price)."""

    actor: Actor
    group_id: ObjectId
    item: ShopItem
    rent: bool
    price: int
    # Unique per purchase attempt (derived from the Idempotency-Key): dedupe requests by it.
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Payment:
    """A payer's yes: `account_id` pays; `reserve` runs inside the purchase transaction,
    `after_commit` once it committed."""

    account_id: ObjectId
    reserve: Callable[[Tx], Awaitable[Any]] | None = None
    after_commit: Callable[[], Awaitable[Any]] | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """A payer's "not yet": the purchase became a request (answered 202 with `detail`)."""

    detail: dict[str, Any] = field(default_factory=dict)
    status: str = "pending_approval"


Payer = Callable[[PurchaseIntent], Awaitable[Payment | Deferred]]
PAYER_FIELDS = ("familyId", "workspaceId")


def purchase_view(p: Purchase) -> PurchaseView:
    return PurchaseView(
        id=str(p.id),
        item_id=str(p.item_id),
        item_name=p.item_name,
        item_type=p.item_type,
        price=p.price,
        rent=p.rent,
        valid_until=p.valid_until,
        paid_from_account_id=str(p.paid_from),
        transfer_id=str(p.transfer_id) if p.transfer_id else None,
        granted_item_ids=[str(g) for g in p.granted],
        created_at=p.created_at,
    )


class Purchases:
    def __init__(
        self,
        *,
        wallet: WalletManager,
        ledger: Ledger,
        catalogue: Catalogue,
        holdings: Holdings,
    ) -> None:
        self._wallet = wallet
        self._ledger = ledger
        self._catalogue = catalogue
        self._holdings = holdings
        self._payers: dict[str, Payer] = {}

    def register_payer(self, pay_with_field: str, payer: Payer) -> None:
        """Let `payWith: {familyId}` / `{workspaceId}` purchases go through `payer`."""
        if pay_with_field not in PAYER_FIELDS:
            raise ValueError(f"unknown payWith field {pay_with_field!r}")
        self._payers[pay_with_field] = payer

    # -------------------------------------------------------------- buying

    async def purchase(
        self, actor: Actor, cmd: PurchaseRequest, *, idempotency_key: str | None
    ) -> Outcome[PurchaseResponse | DeferredPurchase]:
        """Buy or rent an item with the actor's wallet (or a shared one via `payWith`).

        201 `{purchase, balance}`; 202 `{status, detail}` when a payer deferred it.
        Errors: `ITEM_NOT_FOUND`, `ALREADY_OWNED`, `RENTAL_NOT_OFFERED`, `INSUFFICIENT_FUNDS`,
        `WALLET_FROZEN`, `EMAIL_NOT_VERIFIED`, `PAY_WITH_UNAVAILABLE`, idempotency errors;
        403 `INSUFFICIENT_SCOPE` for a token without `shop:purchase` (and, with `payWith`,
        the group's `families:write` / `workspaces:write`, checked by its payer).
        """
        cmd = validate(cmd)
        require_scope(actor, "shop:purchase")
        key = check_key(idempotency_key)

        async def operation(rec: Recorder) -> Any:
            await self._wallet.require_verified(actor)
            item = await self._catalogue.item(cmd.item_id)
            price = self._price(item, cmd.rent)
            await self._holdings.precheck(actor.user_id, item, cmd.rent)
            payment = await self._payment(actor, cmd, item, price, rec)
            if isinstance(payment, Deferred):
                body = DeferredPurchase(status=payment.status, detail=payment.detail)
                await rec.save(None, body, status_code=202)
                return Outcome(body, status_code=202)
            return await self._buy(
                user_id=actor.user_id,
                actor_id=actor.user_id,
                item=item,
                rent=cmd.rent,
                price=price,
                payment=payment,
                key=rec.record_id,
                rec=rec,
            )

        return await self._wallet.idempotency.run(
            scope="shop.purchase",
            actor_id=actor.user_id,
            key=key,
            params=cmd,
            result_type={201: PurchaseResponse, 202: DeferredPurchase},
            operation=operation,
        )

    async def fulfil(
        self,
        *,
        buyer_id: ObjectId,
        actor_id: ObjectId,
        item_id: Any,
        rent: bool,
        payment: Payment,
        idempotency_key: str,
    ) -> PurchaseResponse:
        """An already-authorised purchase (e.g. an approved family purchase request).

        `idempotency_key` must be unique per purchase (e.g. `family:purchase:<request id>`):
        the ledger never charges the same key twice.
        """
        item = await self._catalogue.item(item_id)
        price = self._price(item, rent)
        await self._holdings.precheck(buyer_id, item, rent)
        return await self._buy(
            user_id=buyer_id,
            actor_id=actor_id,
            item=item,
            rent=rent,
            price=price,
            payment=payment,
            key=idempotency_key,
            rec=None,
        )

    @staticmethod
    def _price(item: ShopItem, rent: bool) -> int:
        if not rent:
            return item.price
        if item.rental_price is None or item.rental_seconds is None:
            raise RentalNotOffered("This item cannot be rented.")
        return item.rental_price

    async def _payment(
        self, actor: Actor, cmd: PurchaseRequest, item: ShopItem, price: int, rec: Recorder
    ) -> Payment | Deferred:
        if cmd.pay_with is None:
            account = await self._wallet.user_account(actor.user_id)
            return Payment(account_id=stored_id(account.id))
        named = [
            (name, value)
            for name, value in (
                ("familyId", cmd.pay_with.family_id),
                ("workspaceId", cmd.pay_with.workspace_id),
            )
            if value is not None
        ]
        if len(named) != 1:
            raise Unprocessable(
                "payWith names exactly one of familyId or workspaceId.",
                details=[{"field": "payWith", "message": "exactly one of familyId, workspaceId"}],
            )
        name, group_id = named[0]
        payer = self._payers.get(name)
        if payer is None:
            raise Unprocessable(
                f"Paying with {name} is not available yet.", code="PAY_WITH_UNAVAILABLE"
            )
        intent = PurchaseIntent(
            actor=actor,
            group_id=ObjectId(group_id),
            item=item,
            rent=cmd.rent,
            price=price,
            idempotency_key=rec.record_id,
        )
        return await payer(intent)

    async def _buy(
        self,
        *,
        user_id: ObjectId,
        actor_id: ObjectId,
        item: ShopItem,
        rent: bool,
        price: int,
        payment: Payment,
        key: str,
        rec: Recorder | None,
    ) -> PurchaseResponse:
        purchase_id = ObjectId()
        issuer = await self._ledger.issuer_account()

        async def work(tx: Tx) -> PurchaseResponse:
            session = tx.session
            if payment.reserve is not None:
                await payment.reserve(tx)
            moved: Moved | None = None
            if price > 0:
                moved = await self._ledger.move(
                    tx,
                    Movement(
                        from_account=payment.account_id,
                        to_account=stored_id(issuer.id),
                        amount=price,
                        kind="purchase",
                        idempotency_key=f"shop:{key}",
                        actor_id=actor_id,
                        memo=f"{item.type}: {item.name}" + (" (rental)" if rent else ""),
                        correlation_id=f"shop:purchase:{purchase_id}",
                    ),
                )
                balance = moved.transfer.from_balance_after
            else:
                account = await self._ledger.get_account(payment.account_id, session=session)
                balance = account.balance if account else 0
            granted, valid_until = await self._holdings.grant(
                session, user_id=user_id, item=item, rent=rent, purchase_id=purchase_id
            )
            purchase = Purchase(
                id=purchase_id,
                user_id=user_id,
                item_id=item.id,
                item_name=item.name,
                item_type=item.type,
                price=price,
                rent=rent,
                valid_until=valid_until,
                paid_from=payment.account_id,
                transfer_id=moved.transfer.id if moved else None,
                granted=granted,
            )
            await Purchase.get_pymongo_collection().insert_one(
                purchase.model_dump(by_alias=True, exclude={"revision_id"}), session=session
            )
            response = PurchaseResponse(purchase=purchase_view(purchase), balance=balance)
            if rec is not None:
                await rec.save(session, response)
            if payment.after_commit is not None:
                tx.after_commit(payment.after_commit)
            tx.publish(
                user_channel(user_id),
                PURCHASE_COMPLETED,
                PurchaseCompletedEvent(purchase=response.purchase),
            )
            return response

        return await self._ledger.run(work)

    async def list_purchases(
        self, actor: Actor, *, cursor: str | None = None, limit: int = 50
    ) -> PurchasePage:
        require_scope(actor, "shop:read")
        query: dict[str, Any] = {"user_id": actor.user_id}
        if cursor:
            if not ObjectId.is_valid(cursor):
                raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
            query["_id"] = {"$lt": ObjectId(cursor)}
        limit = max(1, min(int(limit), 200))
        docs = (
            await Purchase.get_pymongo_collection()
            .find(query)
            .sort("_id", -1)
            .limit(limit + 1)
            .to_list()
        )
        more = len(docs) > limit
        items = [purchase_view(Purchase.model_validate(d)) for d in docs[:limit]]
        return PurchasePage(items=items, next_cursor=items[-1].id if more and items else None)
