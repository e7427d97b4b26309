"""What users hold: granting items (owned or rented), the inventory, and the sweep that
ends rentals past their `validUntil`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Publisher, Tx, run_in_transaction
from server.core.errors import Conflict
from server.core.ids import stored_id
from server.shop.catalogue import item_view
from server.shop.documents import Ownership, ShopItem
from server.shop.events import RENTAL_EXPIRED
from server.shop.schemas import Inventory, InventoryEntry, RentalExpiredEvent


class AlreadyOwned(Conflict):
    code = "ALREADY_OWNED"


class Holdings:
    """The `Ownership` records: the only code that grants or removes an item."""

    def __init__(self, *, mongo: AsyncMongoClient[Any], bus: Publisher) -> None:
        self._mongo = mongo
        self._bus = bus

    async def precheck(self, user_id: ObjectId, item: ShopItem, rent: bool) -> None:
        """A clear 409 before any money moves (the transaction checks again)."""
        doc = await Ownership.get_pymongo_collection().find_one(
            {"user_id": user_id, "item_id": item.id}
        )
        if doc is not None and doc["kind"] == "owned":
            raise AlreadyOwned("You already own this item.")

    async def grant(
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
        own_id = stored_id(item.id)
        targets: list[tuple[ObjectId, ObjectId | None]] = [(own_id, None)]
        targets += [(c, own_id) for c in item.contents]
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

            async def remove(tx: Tx, doc: dict[str, Any] = doc) -> bool:
                result = await collection.delete_one(
                    {"_id": doc["_id"], "kind": "rental", "valid_until": doc["valid_until"]},
                    session=tx.session,
                )
                if result.deleted_count != 1:
                    return False
                tx.publish(
                    user_channel(doc["user_id"]),
                    RENTAL_EXPIRED,
                    RentalExpiredEvent(item_id=str(doc["item_id"]), valid_until=doc["valid_until"]),
                )
                return True

            if await run_in_transaction(self._mongo, remove, publisher=self._bus):
                expired += 1
        return expired
