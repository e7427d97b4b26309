"""`ShopManager`: the shop's one entry point for routes, tools and other managers, a thin
facade over three collaborators: the `Catalogue` (items), `Purchases` (buying and renting,
payers) and `Holdings` (what users own or rent, the rentals sweep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from server.core.actor import Actor
from server.core.db import Publisher
from server.shop.catalogue import Catalogue, ItemNotFound, may_edit_catalogue
from server.shop.inventory import AlreadyOwned, Holdings
from server.shop.purchases import (
    Deferred,
    Payer,
    Payment,
    PurchaseIntent,
    Purchases,
    RentalNotOffered,
)
from server.shop.schemas import (
    DeferredPurchase,
    Inventory,
    ItemCreate,
    ItemPage,
    ItemUpdate,
    ItemView,
    PurchasePage,
    PurchaseRequest,
    PurchaseResponse,
)
from server.wallet.idempotency import Outcome
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager

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


class ShopManager:
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        wallet: WalletManager,
        ledger: Ledger,
        bus: Publisher,
    ) -> None:
        self.catalogue = Catalogue()
        self.holdings = Holdings(mongo=mongo, bus=bus)
        self.purchases = Purchases(
            wallet=wallet, ledger=ledger, catalogue=self.catalogue, holdings=self.holdings
        )

    def register_payer(self, pay_with_field: str, payer: Payer) -> None:
        """Let `payWith: {familyId}` / `{workspaceId}` purchases go through `payer`."""
        self.purchases.register_payer(pay_with_field, payer)

    # -------------------------------------------------------------- catalogue

    async def list_items(
        self,
        actor: Actor,
        *,
        type_: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ItemPage:
        return await self.catalogue.list_items(actor, type_=type_, cursor=cursor, limit=limit)

    async def get_item(self, actor: Actor, item_id: str) -> ItemView:
        return await self.catalogue.get_item(actor, item_id)

    async def create_item(self, actor: Actor, cmd: ItemCreate) -> ItemView:
        return await self.catalogue.create_item(actor, cmd)

    async def update_item(self, actor: Actor, item_id: str, cmd: ItemUpdate) -> ItemView:
        return await self.catalogue.update_item(actor, item_id, cmd)

    async def delete_item(self, actor: Actor, item_id: str) -> None:
        await self.catalogue.delete_item(actor, item_id)

    # -------------------------------------------------------------- buying

    async def purchase(
        self, actor: Actor, cmd: PurchaseRequest, *, idempotency_key: str | None
    ) -> Outcome[PurchaseResponse | DeferredPurchase]:
        """Buy or rent an item (see `Purchases.purchase`)."""
        return await self.purchases.purchase(actor, cmd, idempotency_key=idempotency_key)

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
        """An already-authorised purchase (see `Purchases.fulfil`)."""
        return await self.purchases.fulfil(
            buyer_id=buyer_id,
            actor_id=actor_id,
            item_id=item_id,
            rent=rent,
            payment=payment,
            idempotency_key=idempotency_key,
        )

    async def list_purchases(
        self, actor: Actor, *, cursor: str | None = None, limit: int = 50
    ) -> PurchasePage:
        return await self.purchases.list_purchases(actor, cursor=cursor, limit=limit)

    # -------------------------------------------------------------- holdings

    async def inventory(self, actor: Actor) -> Inventory:
        return await self.holdings.inventory(actor)

    async def owns(self, user_id: ObjectId, item_id: ObjectId) -> bool:
        return await self.holdings.owns(user_id, item_id)

    async def expire_rentals(self, *, now: datetime | None = None, limit: int = 500) -> int:
        return await self.holdings.expire_rentals(now=now, limit=limit)
