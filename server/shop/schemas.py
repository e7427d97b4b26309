"""Wire types of the shop (camelCase JSON): catalogue, purchases, inventory, events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from server.core.wire import Input, ObjectIdStr, Output

ItemType = Literal["theme", "avatar", "banner", "bundle"]
Slug = Annotated[str, msgspec.Meta(min_length=2, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Description = Annotated[str, msgspec.Meta(max_length=1000)]
Price = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
RentalPrice = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
RentalSeconds = Annotated[int, msgspec.Meta(ge=60, le=366 * 24 * 3600)]


class ItemCreate(Input):
    slug: Slug
    type: ItemType
    name: Name
    price: Price
    description: Description = ""
    rental_price: RentalPrice | None = None
    rental_seconds: RentalSeconds | None = None
    available: bool = True
    contents: list[ObjectIdStr] = msgspec.field(default_factory=list)


class ItemUpdate(Input):
    """PATCH: only the fields present change; `null` clears the rental offer."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    price: Price | msgspec.UnsetType = msgspec.UNSET
    rental_price: RentalPrice | msgspec.UnsetType | None = msgspec.UNSET
    rental_seconds: RentalSeconds | msgspec.UnsetType | None = msgspec.UNSET
    available: bool | msgspec.UnsetType = msgspec.UNSET
    contents: list[ObjectIdStr] | msgspec.UnsetType = msgspec.UNSET


class PayWith(Input):
    """Pay from a shared wallet instead of the buyer's own: exactly one of the two."""

    family_id: ObjectIdStr | None = None
    workspace_id: ObjectIdStr | None = None


class PurchaseRequest(Input):
    item_id: ObjectIdStr
    rent: bool = False
    pay_with: PayWith | None = None


class ItemView(Output):
    id: str
    slug: str
    type: str
    name: str
    description: str
    price: int
    rental_price: int | None
    rental_seconds: int | None
    available: bool
    contents: list[str]
    created_at: datetime
    updated_at: datetime


class ItemPage(Output):
    items: list[ItemView]
    next_cursor: str | None


class PurchaseView(Output):
    id: str
    item_id: str
    item_name: str
    item_type: str
    price: int
    rent: bool
    valid_until: datetime | None
    paid_from_account_id: str
    transfer_id: str | None
    granted_item_ids: list[str]
    created_at: datetime


class PurchaseResponse(Output):
    purchase: PurchaseView
    # The balance of the wallet that paid, right after the purchase.
    balance: int


class DeferredPurchase(Output):
    """202: the purchase became a request that someone else (a family admin) decides."""

    status: str
    detail: dict[str, Any]


class InventoryEntry(Output):
    item: ItemView
    kind: str  # owned | rental
    valid_until: datetime | None
    acquired_at: datetime
    via_bundle_id: str | None = None


class Inventory(Output):
    items: list[InventoryEntry]


class PurchasePage(Output):
    items: list[PurchaseView]
    next_cursor: str | None


# ------------------------------------------------------------------------------ events


class PurchaseCompletedEvent(Output):
    """`shop.purchase_completed` on the buyer's `user:{id}` channel."""

    purchase: PurchaseView


class RentalExpiredEvent(Output):
    """`shop.rental_expired` on the renter's `user:{id}` channel."""

    item_id: str
    valid_until: datetime
