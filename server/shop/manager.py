"""`ShopManager`: the catalogue, purchases and rentals, and the inventory.

Buying is one transaction: the debit (through the ledger's `move`, kind `purchase`, into
the issuer account, i.e. the tokens are burned), the ownership grant, the purchase record
and the idempotency record. If any step fails nothing is written, so no tokens are lost.

Paying from a family or workspace wallet (`payWith`) goes through a *payer* that the
families/workspaces wiring registers with `register_payer("familyId", payer)`: the payer
applies the spending rules and answers a `Payment` (which account pays, plus an optional
step to run inside the purchase transaction, e.g. the spending counter) or a `Deferred`
(the purchase became a request for the group's admins: 202). When such a request is
approved, the group manager calls `fulfil` with the already-authorised purchase.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.errors import BadRequest, Conflict, Unprocessable
from server.shop.catalogue import (
    CatalogueMixin,
    ItemNotFound,
    item_view,
    may_edit_catalogue,
)
from server.shop.documents import Ownership, Purchase, ShopItem
from server.shop.events import PURCHASE_COMPLETED, RENTAL_EXPIRED
from server.shop.schemas import (
    DeferredPurchase,
    Inventory,
    InventoryEntry,
    PurchaseCompletedEvent,
    PurchasePage,
    PurchaseRequest,
    PurchaseResponse,
    PurchaseView,
    RentalExpiredEvent,
)
from server.wallet.idempotency import Outcome, Recorder, check_key
from server.wallet.ledger import Moved, Movement
from server.wallet.manager import WalletManager

log = logging.getLogger("server.shop")

__all__ = [
    "AlreadyOwned",
    "Deferred",
    "ItemNotFound",
    "Payment",
    "PurchaseIntent",
    "RentalNotOffered",
    "ShopManager",
    "may_edit_catalogue",
]


class AlreadyOwned(Conflict):
    code = "ALREADY_OWNED"


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
    """A payer's yes: `account_id` pays; `reserve` runs inside the purchase transaction."""

    account_id: ObjectId
    reserve: Callable[[AsyncClientSession], Awaitable[Any]] | None = None
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


class ShopManager(CatalogueMixin):
    def __init__(self, *, wallet: WalletManager, bus: EventBus) -> None:
        self._wallet = wallet
        self._bus = bus
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
        require_scope(actor, "shop:purchase")
        key = check_key(idempotency_key)

        async def operation(rec: Recorder) -> Any:
            await self._wallet.require_verified(actor)
            item = await self._item(cmd.item_id)
            price = self._price(item, cmd.rent)
            await self._precheck_ownership(actor.user_id, item, cmd.rent)
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

        return await self._wallet.idempotency.run(  # type: ignore[return-value]
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
        item = await self._item(item_id)
        price = self._price(item, rent)
        await self._precheck_ownership(buyer_id, item, rent)
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
            return Payment(account_id=account.id)  # type: ignore[arg-type]
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

    async def _precheck_ownership(self, user_id: ObjectId, item: ShopItem, rent: bool) -> None:
        """A clear 409 before any money moves (the transaction checks again)."""
        doc = await Ownership.get_pymongo_collection().find_one(
            {"user_id": user_id, "item_id": item.id}
        )
        if doc is not None and doc["kind"] == "owned":
            raise AlreadyOwned("You already own this item.")

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
        issuer = await self._wallet.issuer_account()

        async def work(session: AsyncClientSession) -> tuple[Moved | None, PurchaseResponse]:
            if payment.reserve is not None:
                await payment.reserve(session)
            moved = None
            if price > 0:
                moved = await self._wallet.move(
                    Movement(
                        from_account=payment.account_id,
                        to_account=issuer.id,  # type: ignore[arg-type]
                        amount=price,
                        kind="purchase",
                        idempotency_key=f"shop:{key}",
                        actor_id=actor_id,
                        memo=f"{item.type}: {item.name}" + (" (rental)" if rent else ""),
                        correlation_id=f"shop:purchase:{purchase_id}",
                    ),
                    session=session,
                )
                balance = moved.transfer.from_balance_after
            else:
                account = await self._wallet.get_account(payment.account_id, session=session)
                balance = account.balance if account else 0
            granted, valid_until = await self._grant(
                session, user_id=user_id, item=item, rent=rent, purchase_id=purchase_id
            )
            purchase = Purchase(
                id=purchase_id,
                user_id=user_id,
                item_id=item.id,  # type: ignore[arg-type]
                item_name=item.name,
                item_type=item.type,
                price=price,
                rent=rent,
                valid_until=valid_until,
                paid_from=payment.account_id,  # type: ignore[arg-type]
                transfer_id=moved.transfer.id if moved else None,
                granted=granted,  # type: ignore[arg-type]
            )
            await Purchase.get_pymongo_collection().insert_one(
                purchase.model_dump(by_alias=True, exclude={"revision_id"}), session=session
            )
            response = PurchaseResponse(purchase=purchase_view(purchase), balance=balance)
            if rec is not None:
                await rec.save(session, response)
            return moved, response

        moved, response = await self._wallet.transaction(work)
        if moved is not None:
            await self._wallet.publish_moved(moved)
        if payment.after_commit is not None:
            await payment.after_commit()
        await self._bus.publish(
            user_channel(user_id),
            PURCHASE_COMPLETED,
            PurchaseCompletedEvent(purchase=response.purchase),
        )
        return response

    async def _grant(
        self,
        session: AsyncClientSession,
        *,
        user_id: ObjectId,
        item: ShopItem,
        rent: bool,
        purchase_id: ObjectId,
    ) -> tuple[list[ObjectId], datetime | None]:
        """Give the item (a bundle: the bundle and each item in it) to the user.

        Buying: owned for good (a running rental becomes owned). Renting: until now +
        `rental_seconds`, or extended from the current end while a rental runs. Items the
        user owns for good are skipped inside a bundle and refused on their own.
        """
        now = utcnow()
        collection = Ownership.get_pymongo_collection()
        targets: list[tuple[ObjectId, ObjectId | None]] = [(item.id, None)]  # type: ignore[list-item]
        targets += [(c, item.id) for c in item.contents]  # type: ignore[misc]
        granted: list[ObjectId] = []
        valid_until: datetime | None = None
        for item_id, bundle_id in targets:
            current = await collection.find_one(
                {"user_id": user_id, "item_id": item_id}, session=session
            )
            if current is not None and current["kind"] == "owned":
                if bundle_id is None:
                    raise AlreadyOwned("You already own this item.")
                continue
            if rent:
                start = now
                if (
                    current is not None
                    and current.get("valid_until")
                    and current["valid_until"] > now
                ):
                    start = current["valid_until"]
                until = start + timedelta(seconds=item.rental_seconds or 0)
                until = until.replace(microsecond=until.microsecond // 1000 * 1000)
                if bundle_id is None:
                    valid_until = until
                fields = {"kind": "rental", "valid_until": until}
            else:
                fields = {"kind": "owned", "valid_until": None}
            await collection.update_one(
                {"user_id": user_id, "item_id": item_id},
                {
                    "$set": {**fields, "purchase_id": purchase_id, "updated_at": now},
                    "$setOnInsert": {"acquired_at": now, "bundle_id": bundle_id},
                },
                upsert=True,
                session=session,
            )
            granted.append(item_id)
        return granted, valid_until

    # -------------------------------------------------------------- inventory

    async def inventory(self, actor: Actor) -> Inventory:
        """What the actor owns, and rents until `validUntil` (expired rentals never count)."""
        require_scope(actor, "shop:read")
        now = utcnow()
        docs = await (
            Ownership.get_pymongo_collection()
            .find(
                {
                    "user_id": actor.user_id,
                    "$or": [{"kind": "owned"}, {"valid_until": {"$gt": now}}],
                }
            )
            .to_list()
        )
        ids = [d["item_id"] for d in docs]
        items = {
            d["_id"]: ShopItem.model_validate(d)
            for d in await ShopItem.get_pymongo_collection().find({"_id": {"$in": ids}}).to_list()
        }
        entries = [
            InventoryEntry(
                item=item_view(items[d["item_id"]]),
                kind=d["kind"],
                valid_until=d.get("valid_until"),
                acquired_at=d["acquired_at"],
                via_bundle_id=str(d["bundle_id"]) if d.get("bundle_id") else None,
            )
            for d in sorted(docs, key=lambda d: d["acquired_at"])
            if d["item_id"] in items
        ]
        return Inventory(items=entries)

    async def owns(self, user_id: ObjectId, item_id: ObjectId) -> bool:
        """Whether the user holds the item right now (for other managers)."""
        doc = await Ownership.get_pymongo_collection().find_one(
            {
                "user_id": ObjectId(user_id),
                "item_id": ObjectId(item_id),
                "$or": [{"kind": "owned"}, {"valid_until": {"$gt": utcnow()}}],
            },
            {"_id": 1},
        )
        return doc is not None

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

    # -------------------------------------------------------------- rentals sweep

    async def expire_rentals(self, *, now: datetime | None = None, limit: int = 500) -> int:
        """Remove rentals past `validUntil` and publish `shop.rental_expired` for each.

        The delete is conditional on the same `validUntil`, so a rental extended a moment
        ago is never removed. Returns how many expired.
        """
        now = now or utcnow()
        collection = Ownership.get_pymongo_collection()
        due = (
            await collection.find({"kind": "rental", "valid_until": {"$lte": now}})
            .limit(limit)
            .to_list()
        )
        expired = 0
        for doc in due:
            result = await collection.delete_one(
                {"_id": doc["_id"], "kind": "rental", "valid_until": doc["valid_until"]}
            )
            if result.deleted_count != 1:
                continue
            expired += 1
            await self._bus.publish(
                user_channel(doc["user_id"]),
                RENTAL_EXPIRED,
                RentalExpiredEvent(item_id=str(doc["item_id"]), valid_until=doc["valid_until"]),
            )
        return expired
