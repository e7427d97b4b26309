"""Helpers for the shop tests (not a test module)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import unique_name


async def create_item(
    client: httpx.AsyncClient, shop_admin: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"slug": unique_name("item-").lower(), "type": "theme", "name": "Item", "price": 10}
    body.update(fields)
    response = await client.post("/api/v1/shop/items", json=body, headers=shop_admin["headers"])
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def inventory(client: httpx.AsyncClient, user: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/shop/inventory", headers=user["headers"])
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]
