"""Shop documents: catalogue items, purchases, and what each user owns or rents."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow

ITEM_TYPES: tuple[str, ...] = ("theme", "avatar", "banner", "bundle")


class ShopItem(Document):
    slug: str
    type: str
    name: str
    description: str = ""
    price: int
    # Renting is offered when both are set: `rental_price` tokens for `rental_seconds`.
    rental_price: int | None = None
    rental_seconds: int | None = None
    available: bool = True
    deleted: bool = False
    # Bundles only: the ids of the (non-bundle) items they grant.
    contents: list[PydanticObjectId] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "shop_items"
        indexes = [
            IndexModel([("slug", ASCENDING)], unique=True, name="slug_unique"),
            IndexModel(
                [("deleted", ASCENDING), ("type", ASCENDING), ("_id", ASCENDING)],
                name="catalogue",
            ),
        ]


class Ownership(Document):
    """One item in a user's inventory: owned for good (`valid_until` None) or rented."""

    user_id: PydanticObjectId
    item_id: PydanticObjectId
    kind: str  # owned | rental
    valid_until: datetime | None = None
    purchase_id: PydanticObjectId
    bundle_id: PydanticObjectId | None = None
    acquired_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "shop_ownerships"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("item_id", ASCENDING)], unique=True, name="one"),
            IndexModel([("kind", ASCENDING), ("valid_until", ASCENDING)], name="rentals_due"),
        ]


class Purchase(Document):
    """An immutable record of one purchase (or rental) and the transfer that paid it."""

    user_id: PydanticObjectId
    item_id: PydanticObjectId
    item_name: str
    item_type: str
    price: int
    rent: bool = False
    valid_until: datetime | None = None
    paid_from: PydanticObjectId
    transfer_id: PydanticObjectId | None = None
    granted: list[PydanticObjectId] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "shop_purchases"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("_id", DESCENDING)], name="user_history"),
        ]
