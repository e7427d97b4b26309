"""A starter catalogue (`litestar --app server.app:create_app shop seed`). Idempotent by slug."""

from __future__ import annotations

from typing import Any

from server.core.clock import utcnow
from server.shop.documents import ShopItem

DAY = 24 * 3600

STARTER: list[dict[str, Any]] = [
    {
        "slug": "theme-midnight",
        "type": "theme",
        "name": "Midnight",
        "price": 120,
        "rental_price": 15,
        "rental_seconds": 7 * DAY,
        "description": "A calm dark theme with deep blue accents.",
    },
    {
        "slug": "theme-meadow",
        "type": "theme",
        "name": "Meadow",
        "price": 120,
        "rental_price": 15,
        "rental_seconds": 7 * DAY,
        "description": "Soft greens and warm light.",
    },
    {
        "slug": "theme-paper",
        "type": "theme",
        "name": "Paper",
        "price": 80,
        "description": "High-contrast black on warm white.",
    },
    {
        "slug": "avatar-fox",
        "type": "avatar",
        "name": "Fox",
        "price": 40,
        "description": "A curious orange fox.",
    },
    {
        "slug": "avatar-owl",
        "type": "avatar",
        "name": "Owl",
        "price": 40,
        "description": "A wise night owl.",
    },
    {
        "slug": "avatar-robot",
        "type": "avatar",
        "name": "Robot",
        "price": 60,
        "rental_price": 5,
        "rental_seconds": 3 * DAY,
        "description": "A friendly robot.",
    },
    {
        "slug": "banner-aurora",
        "type": "banner",
        "name": "Aurora",
        "price": 90,
        "rental_price": 10,
        "rental_seconds": 7 * DAY,
        "description": "Northern lights.",
    },
    {
        "slug": "banner-waves",
        "type": "banner",
        "name": "Waves",
        "price": 70,
        "description": "Ocean waves at dawn.",
    },
]
BUNDLES: list[dict[str, Any]] = [
    {
        "slug": "bundle-night-owl",
        "type": "bundle",
        "name": "Night Owl",
        "price": 180,
        "description": "Midnight theme, Owl avatar and Aurora banner.",
        "contents": ["theme-midnight", "avatar-owl", "banner-aurora"],
    },
]


async def seed_catalogue() -> int:
    """Insert the starter items that are missing; returns how many were added."""
    collection = ShopItem.get_pymongo_collection()
    added = 0
    for spec in [*STARTER, *BUNDLES]:
        fields = dict(spec)
        if "contents" in fields:
            docs = await collection.find({"slug": {"$in": fields["contents"]}}).to_list()
            fields["contents"] = [d["_id"] for d in docs]
        now = utcnow()
        doc = ShopItem(**fields, created_at=now, updated_at=now).model_dump(
            by_alias=True, exclude={"id", "revision_id"}
        )
        result = await collection.update_one(
            {"slug": spec["slug"]}, {"$setOnInsert": doc}, upsert=True
        )
        added += 1 if result.upserted_id is not None else 0
    return added
