"""The shop catalogue through HTTP: only shop admins edit it; everyone browses it."""

from __future__ import annotations

import pytest

from auth.documents import User
from tests.helpers import assert_error, login, register
from tests.integration.shop_support import create_item
from tests.integration.wallet_support import admin

pytestmark = pytest.mark.integration


async def _shop_admin(client):
    """A user holding only the shop-admin role (as `shop grant-admin` gives it)."""
    user = await register(client)
    name = user["user"]["username"]
    await User.get_pymongo_collection().update_one(
        {"username": name}, {"$addToSet": {"roles": "shop_admin"}}
    )
    return await login(client, name)


async def test_shop_admin_creates_updates_and_withdraws_items(client):
    editor = await _shop_admin(client)
    buyer = await register(client)
    item = await create_item(
        client, editor, name="Dusk", price=50, rentalPrice=5, rentalSeconds=3600
    )
    assert item["price"] == 50 and item["rentalSeconds"] == 3600 and item["available"]

    patched = await client.patch(
        f"/api/v1/shop/items/{item['id']}",
        json={"price": 60, "rentalPrice": None, "rentalSeconds": None},
        headers=editor["headers"],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == 60 and patched.json()["rentalPrice"] is None
    seen = await client.get(f"/api/v1/shop/items/{item['id']}", headers=buyer["headers"])
    assert seen.status_code == 200 and seen.json()["name"] == "Dusk"

    gone = await client.delete(f"/api/v1/shop/items/{item['id']}", headers=editor["headers"])
    assert gone.status_code == 204
    after = await client.get(f"/api/v1/shop/items/{item['id']}", headers=buyer["headers"])
    assert_error(after, 404, "ITEM_NOT_FOUND")


async def test_platform_admins_may_edit_too_and_others_may_not(client):
    boss = await admin(client)
    await create_item(client, boss)
    someone = await register(client)
    body = {"slug": "nope", "type": "theme", "name": "Nope", "price": 1}
    response = await client.post("/api/v1/shop/items", json=body, headers=someone["headers"])
    assert_error(response, 403, "FORBIDDEN")
    item = await create_item(client, boss)
    patch = await client.patch(
        f"/api/v1/shop/items/{item['id']}", json={"price": 1}, headers=someone["headers"]
    )
    assert_error(patch, 403, "FORBIDDEN")
    delete = await client.delete(f"/api/v1/shop/items/{item['id']}", headers=someone["headers"])
    assert_error(delete, 403, "FORBIDDEN")


async def test_catalogue_rules(client):
    boss = await admin(client)
    theme = await create_item(client, boss, slug="taken-slug")
    again = await client.post(
        "/api/v1/shop/items",
        json={"slug": "taken-slug", "type": "theme", "name": "X", "price": 1},
        headers=boss["headers"],
    )
    assert_error(again, 409, "SLUG_TAKEN")
    half_rental = await client.post(
        "/api/v1/shop/items",
        json={"slug": "half", "type": "theme", "name": "X", "price": 1, "rentalPrice": 1},
        headers=boss["headers"],
    )
    assert_error(half_rental, 422, "VALIDATION_ERROR")
    empty_bundle = await client.post(
        "/api/v1/shop/items",
        json={"slug": "empty", "type": "bundle", "name": "X", "price": 1},
        headers=boss["headers"],
    )
    assert_error(empty_bundle, 422)
    bundle = await create_item(client, boss, type="bundle", contents=[theme["id"]])
    nested = await client.post(
        "/api/v1/shop/items",
        json={
            "slug": "nested",
            "type": "bundle",
            "name": "X",
            "price": 1,
            "contents": [bundle["id"]],
        },
        headers=boss["headers"],
    )
    assert_error(nested, 422)
    contents_on_theme = await client.post(
        "/api/v1/shop/items",
        json={"slug": "odd", "type": "theme", "name": "X", "price": 1, "contents": [theme["id"]]},
        headers=boss["headers"],
    )
    assert_error(contents_on_theme, 422)
    negative = await client.post(
        "/api/v1/shop/items",
        json={"slug": "neg", "type": "theme", "name": "X", "price": -1},
        headers=boss["headers"],
    )
    assert_error(negative, 422, "VALIDATION_ERROR")


async def test_listing_filters_pages_and_hides_unavailable(client):
    boss = await admin(client)
    buyer = await register(client)
    themes = [await create_item(client, boss, type="theme") for _ in range(3)]
    await create_item(client, boss, type="avatar")
    hidden = await create_item(client, boss, type="theme", available=False)

    first = await client.get("/api/v1/shop/items?type=theme&limit=2", headers=buyer["headers"])
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["id"] for i in page["items"]] == [themes[0]["id"], themes[1]["id"]]
    second = await client.get(
        f"/api/v1/shop/items?type=theme&limit=2&cursor={page['nextCursor']}",
        headers=buyer["headers"],
    )
    assert [i["id"] for i in second.json()["items"]] == [themes[2]["id"]]
    assert second.json()["nextCursor"] is None
    assert_error(
        await client.get(f"/api/v1/shop/items/{hidden['id']}", headers=buyer["headers"]),
        404,
        "ITEM_NOT_FOUND",
    )
    as_admin = await client.get("/api/v1/shop/items?type=theme", headers=boss["headers"])
    assert hidden["id"] in {i["id"] for i in as_admin.json()["items"]}
    bad = await client.get("/api/v1/shop/items?type=car", headers=buyer["headers"])
    assert_error(bad, 400, "INVALID_TYPE")
    all_items = await client.get("/api/v1/shop/items", headers=buyer["headers"])
    assert len(all_items.json()["items"]) == 4
    assert_error(await client.get("/api/v1/shop/items"), 401)


async def test_seed_loads_the_starter_catalogue_once(client):
    from server.shop.seed import seed_catalogue

    first = await seed_catalogue()
    assert first >= 5
    assert await seed_catalogue() == 0
    buyer = await register(client)
    listing = await client.get("/api/v1/shop/items?type=bundle", headers=buyer["headers"])
    (bundle,) = listing.json()["items"]
    assert len(bundle["contents"]) == 3
