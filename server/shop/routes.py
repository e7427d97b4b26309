"""HTTP routes of the shop: thin; every rule lives in `ShopManager`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from server.core.actor import Actor
from server.shop.manager import ShopManager
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
from server.wallet.routes import IdempotencyKey


class ShopController(Controller):
    path = "/api/v1/shop"
    tags = ["shop"]

    @get("/items", summary="The catalogue")
    async def list_items(
        self,
        actor: Actor,
        shop: ShopManager,
        item_type: Annotated[str | None, QueryParameter(name="type", max_length=20)] = None,
        cursor: Annotated[str | None, Parameter(max_length=24)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> ItemPage:
        return await shop.list_items(actor, type_=item_type, cursor=cursor, limit=limit)

    @get("/items/{item_id:str}", summary="One item")
    async def get_item(self, item_id: str, actor: Actor, shop: ShopManager) -> ItemView:
        return await shop.get_item(actor, item_id)

    @post("/items", status_code=HTTP_201_CREATED, summary="Add an item (shop admins)")
    async def create_item(self, data: ItemCreate, actor: Actor, shop: ShopManager) -> ItemView:
        return await shop.create_item(actor, data)

    @patch("/items/{item_id:str}", summary="Change an item (shop admins)")
    async def update_item(
        self, item_id: str, data: ItemUpdate, actor: Actor, shop: ShopManager
    ) -> ItemView:
        return await shop.update_item(actor, item_id, data)

    @delete("/items/{item_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Withdraw an item")
    async def delete_item(self, item_id: str, actor: Actor, shop: ShopManager) -> None:
        await shop.delete_item(actor, item_id)

    @post(
        "/purchases",
        status_code=HTTP_201_CREATED,
        summary="Buy or rent an item (202 when it became a request to a shared wallet's admins)",
    )
    async def purchase(
        self,
        data: PurchaseRequest,
        actor: Actor,
        shop: ShopManager,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PurchaseResponse | DeferredPurchase]:
        outcome = await shop.purchase(actor, data, idempotency_key=idempotency_key)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return Response(content=outcome.value, status_code=outcome.status_code, headers=headers)

    @get("/purchases", summary="The caller's purchases, newest first")
    async def list_purchases(
        self,
        actor: Actor,
        shop: ShopManager,
        cursor: Annotated[str | None, Parameter(max_length=24)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> PurchasePage:
        return await shop.list_purchases(actor, cursor=cursor, limit=limit)

    @get("/inventory", summary="Owned items, and rented ones until validUntil")
    async def inventory(self, actor: Actor, shop: ShopManager) -> Inventory:
        return await shop.inventory(actor)


__all__ = ["ShopController"]
