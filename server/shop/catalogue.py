"""The shop catalogue: items (themes, avatars, banners, bundles) that shop admins edit."""

from __future__ import annotations

from typing import Any

import msgspec
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from auth.scopes import require_scope
from server.core.actor import ROLE_SHOP_ADMIN, Actor
from server.core.clock import utcnow
from server.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from server.core.wire import validate
from server.shop.documents import ITEM_TYPES, ShopItem
from server.shop.schemas import ItemCreate, ItemPage, ItemUpdate, ItemView


class ItemNotFound(NotFound):
    code = "ITEM_NOT_FOUND"


def item_view(item: ShopItem) -> ItemView:
    return ItemView(
        id=str(item.id),
        slug=item.slug,
        type=item.type,
        name=item.name,
        description=item.description,
        price=item.price,
        rental_price=item.rental_price,
        rental_seconds=item.rental_seconds,
        available=item.available,
        contents=[str(c) for c in item.contents],
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def may_edit_catalogue(actor: Actor) -> bool:
    """Shop admins edit the catalogue; platform admins may too."""
    return actor.has_role(ROLE_SHOP_ADMIN) or actor.is_admin


class Catalogue:
    """Catalogue reads for everyone, writes for shop admins (and platform admins)."""

    def _require_shop_admin(self, actor: Actor) -> None:
        require_scope(actor, "shop:admin")
        if not may_edit_catalogue(actor):
            raise Forbidden("Only shop administrators can edit the catalogue.")

    async def item(self, item_id: Any, *, include_hidden: bool = False) -> ShopItem:
        """The item (404 `ITEM_NOT_FOUND` for a deleted one, or a hidden one unless asked)."""
        item = None
        if ObjectId.is_valid(item_id):
            item = await ShopItem.get(ObjectId(item_id))
        if item is None or item.deleted or (not include_hidden and not item.available):
            raise ItemNotFound("No such item.")
        return item

    async def list_items(
        self,
        actor: Actor,
        *,
        type_: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ItemPage:
        """The catalogue in creation order; shop admins also see unavailable items."""
        require_scope(actor, "shop:read")
        query: dict[str, Any] = {"deleted": False}
        if not may_edit_catalogue(actor):
            query["available"] = True
        if type_:
            if type_ not in ITEM_TYPES:
                raise BadRequest("Unknown item type.", code="INVALID_TYPE")
            query["type"] = type_
        if cursor:
            if not ObjectId.is_valid(cursor):
                raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
            query["_id"] = {"$gt": ObjectId(cursor)}
        limit = max(1, min(int(limit), 200))
        docs = (
            await ShopItem.get_pymongo_collection()
            .find(query)
            .sort("_id", 1)
            .limit(limit + 1)
            .to_list()
        )
        more = len(docs) > limit
        items = [item_view(ShopItem.model_validate(d)) for d in docs[:limit]]
        return ItemPage(items=items, next_cursor=items[-1].id if more and items else None)

    async def get_item(self, actor: Actor, item_id: str) -> ItemView:
        require_scope(actor, "shop:read")
        return item_view(await self.item(item_id, include_hidden=may_edit_catalogue(actor)))

    async def _check_contents(self, type_: str, contents: list[str]) -> list[ObjectId]:
        if type_ != "bundle":
            if contents:
                raise Unprocessable(
                    "Only bundles have contents.",
                    details=[{"field": "contents", "message": "only for bundles"}],
                )
            return []
        ids = list(dict.fromkeys(ObjectId(c) for c in contents))
        if not ids:
            raise Unprocessable(
                "A bundle needs at least one item.",
                details=[{"field": "contents", "message": "at least one item"}],
            )
        found = await ShopItem.get_pymongo_collection().count_documents(
            {"_id": {"$in": ids}, "deleted": False, "type": {"$ne": "bundle"}}
        )
        if found != len(ids):
            raise Unprocessable(
                "Bundle contents must be existing items that are not bundles.",
                details=[{"field": "contents", "message": "unknown item or a bundle"}],
            )
        return ids

    @staticmethod
    def _check_rental(price: int | None, seconds: int | None) -> None:
        if (price is None) != (seconds is None):
            raise Unprocessable(
                "Set both rentalPrice and rentalSeconds, or neither.",
                details=[{"field": "rentalPrice", "message": "both or neither"}],
            )

    async def create_item(self, actor: Actor, cmd: ItemCreate) -> ItemView:
        """Shop admins: add an item to the catalogue (409 `SLUG_TAKEN` for a used slug)."""
        cmd = validate(cmd)
        self._require_shop_admin(actor)
        self._check_rental(cmd.rental_price, cmd.rental_seconds)
        contents = await self._check_contents(cmd.type, cmd.contents)
        item = ShopItem(
            slug=cmd.slug,
            type=cmd.type,
            name=cmd.name,
            description=cmd.description,
            price=cmd.price,
            rental_price=cmd.rental_price,
            rental_seconds=cmd.rental_seconds,
            available=cmd.available,
            contents=contents,
        )
        try:
            await item.insert()
        except DuplicateKeyError as exc:
            raise Conflict("An item with this slug exists.", code="SLUG_TAKEN") from exc
        return item_view(item)

    async def update_item(self, actor: Actor, item_id: str, cmd: ItemUpdate) -> ItemView:
        """Shop admins: change an item (fields present in the PATCH only)."""
        cmd = validate(cmd)
        self._require_shop_admin(actor)
        item = await self.item(item_id, include_hidden=True)
        changes: dict[str, Any] = {
            name: value
            for name in (
                "name",
                "description",
                "price",
                "rental_price",
                "rental_seconds",
                "available",
            )
            if (value := getattr(cmd, name)) is not msgspec.UNSET
        }
        rental_price = changes.get("rental_price", item.rental_price)
        rental_seconds = changes.get("rental_seconds", item.rental_seconds)
        self._check_rental(rental_price, rental_seconds)
        if cmd.contents is not msgspec.UNSET:
            changes["contents"] = await self._check_contents(item.type, cmd.contents)
        changes["updated_at"] = utcnow()
        await ShopItem.get_pymongo_collection().update_one({"_id": item.id}, {"$set": changes})
        return item_view(await self.item(item_id, include_hidden=True))

    async def delete_item(self, actor: Actor, item_id: str) -> None:
        """Shop admins: withdraw an item (kept for purchase history; owners keep it)."""
        self._require_shop_admin(actor)
        item = await self.item(item_id, include_hidden=True)
        await ShopItem.get_pymongo_collection().update_one(
            {"_id": item.id},
            {"$set": {"deleted": True, "available": False, "updated_at": utcnow()}},
        )
