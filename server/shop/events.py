"""The shop's event types, for the AsyncAPI document (type -> payload Struct)."""

from __future__ import annotations

from typing import Any

from server.shop.schemas import PurchaseCompletedEvent, RentalExpiredEvent

PURCHASE_COMPLETED = "shop.purchase_completed"
RENTAL_EXPIRED = "shop.rental_expired"

EVENT_TYPES: dict[str, type[Any]] = {
    PURCHASE_COMPLETED: PurchaseCompletedEvent,
    RENTAL_EXPIRED: RentalExpiredEvent,
}
