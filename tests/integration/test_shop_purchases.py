"""Buying and renting through HTTP: atomic debit + grant, bundles, rentals, payers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from bson import ObjectId

from server.core.clock import utcnow
from server.shop.documents import Ownership
from server.shop.inventory import Holdings
from server.shop.manager import Deferred, Payment, ShopManager
from server.wallet.audit import run_audit
from tests.helpers import assert_error, services
from tests.integration.shop_support import create_item, inventory
from tests.integration.wallet_support import admin, balance, key, mint, verified_user

pytestmark = pytest.mark.integration


async def _setup(client, funds=100):
    boss = await admin(client)
    buyer = await verified_user(client)
    if funds:
        await mint(client, boss, buyer["user"]["username"], funds)
    return boss, buyer


def _buy(client, user, item_id, *, headers=None, **extra):
    return client.post(
        "/api/v1/shop/purchases",
        json={"itemId": item_id, **extra},
        headers={**user["headers"], **(key() if headers is None else headers)},
    )


async def test_buying_debits_and_grants_once(client):
    boss, buyer = await _setup(client)
    item = await create_item(client, boss, price=30)
    response = await _buy(client, buyer, item["id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["balance"] == 70
    assert body["purchase"]["price"] == 30 and body["purchase"]["rent"] is False
    assert body["purchase"]["grantedItemIds"] == [item["id"]]
    assert await balance(client, buyer) == 70
    (entry,) = await inventory(client, buyer)
    assert entry["item"]["id"] == item["id"] and entry["kind"] == "owned"
    assert entry["validUntil"] is None

    again = await _buy(client, buyer, item["id"])
    assert_error(again, 409, "ALREADY_OWNED")
    assert await balance(client, buyer) == 70
    history = await client.get("/api/v1/shop/purchases", headers=buyer["headers"])
    assert [p["id"] for p in history.json()["items"]] == [body["purchase"]["id"]]
    report = await run_audit()
    assert report.ok and report.burned == 30 and report.total_balance == 70


async def test_purchase_is_idempotent(client):
    boss, buyer = await _setup(client)
    item = await create_item(client, boss, price=30)
    k = key()
    first, second = await asyncio.gather(
        _buy(client, buyer, item["id"], headers=k), _buy(client, buyer, item["id"], headers=k)
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    assert await balance(client, buyer) == 70
    other = await _buy(client, buyer, item["id"], headers=k, rent=True)
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")


async def test_errors(client):
    boss, buyer = await _setup(client, funds=10)
    pricey = await create_item(client, boss, price=11)
    assert_error(await _buy(client, buyer, pricey["id"]), 409, "INSUFFICIENT_FUNDS")
    assert_error(await _buy(client, buyer, str(ObjectId())), 404, "ITEM_NOT_FOUND")
    hidden = await create_item(client, boss, price=1, available=False)
    assert_error(await _buy(client, buyer, hidden["id"]), 404, "ITEM_NOT_FOUND")
    no_rent = await create_item(client, boss, price=1)
    assert_error(await _buy(client, buyer, no_rent["id"], rent=True), 409, "RENTAL_NOT_OFFERED")
    assert_error(
        await _buy(client, buyer, no_rent["id"], headers={}), 400, "IDEMPOTENCY_KEY_REQUIRED"
    )
    both = {"familyId": str(ObjectId()), "workspaceId": str(ObjectId())}
    assert_error(await _buy(client, buyer, no_rent["id"], payWith=both), 422)
    assert await balance(client, buyer) == 10
    assert await inventory(client, buyer) == []


async def test_pay_with_a_shared_wallet_needs_a_registered_payer(client):
    boss, buyer = await _setup(client, funds=10)
    item = await create_item(client, boss, price=5)
    shop: ShopManager = services(client).shop
    saved = dict(shop.purchases._payers)
    shop.purchases._payers.clear()
    try:
        response = await _buy(client, buyer, item["id"], payWith={"familyId": str(ObjectId())})
        assert_error(response, 422, "PAY_WITH_UNAVAILABLE")
    finally:
        shop.purchases._payers.update(saved)
    assert await balance(client, buyer) == 10


async def test_registered_payer_pays_or_defers(client):
    boss, buyer = await _setup(client, funds=0)
    ledger = services(client).ledger
    group_id = ObjectId()
    shared = await ledger.open_account("family", group_id)
    issuer = await ledger.issuer_account()
    from server.wallet.movement import Movement

    await ledger.commit_move(
        Movement(
            from_account=issuer.id,
            to_account=shared.id,
            amount=50,
            kind="mint",
            idempotency_key=f"test:{group_id}",
            actor_id=ObjectId(),
        )
    )
    reserved: list[int] = []

    async def payer(intent):
        assert intent.group_id == group_id and intent.actor.user_id
        if intent.price > 20:
            return Deferred(detail={"requestId": "r1", "amount": intent.price})

        async def reserve(tx):
            reserved.append(intent.price)

        return Payment(account_id=shared.id, reserve=reserve)

    shop: ShopManager = services(client).shop
    saved = dict(shop.purchases._payers)
    shop.register_payer("familyId", payer)
    try:
        cheap = await create_item(client, boss, price=15)
        paid = await _buy(client, buyer, cheap["id"], payWith={"familyId": str(group_id)})
        assert paid.status_code == 201, paid.text
        assert paid.json()["balance"] == 35
        assert paid.json()["purchase"]["paidFromAccountId"] == str(shared.id)
        assert reserved == [15]
        dear = await create_item(client, boss, price=25)
        k = key()
        deferred = await _buy(
            client, buyer, dear["id"], headers=k, payWith={"familyId": str(group_id)}
        )
        assert deferred.status_code == 202, deferred.text
        assert deferred.json() == {
            "status": "pending_approval",
            "detail": {"requestId": "r1", "amount": 25},
        }
        replay = await _buy(
            client, buyer, dear["id"], headers=k, payWith={"familyId": str(group_id)}
        )
        assert replay.status_code == 202 and replay.json() == deferred.json()
    finally:
        shop.purchases._payers.clear()
        shop.purchases._payers.update(saved)
    assert [e["item"]["id"] for e in await inventory(client, buyer)] == [cheap["id"]]
    assert (await ledger.get_account(shared.id)).balance == 35
    assert (await run_audit()).ok


async def test_a_failing_grant_moves_no_tokens(client, monkeypatch):
    """The grant runs in the debit's transaction: when it fails, the debit rolls back."""
    boss, buyer = await _setup(client)
    item = await create_item(client, boss, price=30)

    async def broken_grant(self, session, **kwargs):
        await Ownership.get_pymongo_collection().insert_one(
            {
                "user_id": ObjectId(buyer["user"]["id"]),
                "item_id": ObjectId(item["id"]),
                "kind": "owned",
            },
            session=session,
        )
        raise RuntimeError("injected grant failure")

    monkeypatch.setattr(Holdings, "grant", broken_grant)
    k = key()
    response = await _buy(client, buyer, item["id"], headers=k)
    assert_error(response, 500, "INTERNAL_ERROR")
    assert await balance(client, buyer) == 100
    assert await inventory(client, buyer) == []
    assert await Ownership.get_pymongo_collection().count_documents({}) == 0
    assert (await run_audit()).ok
    monkeypatch.undo()
    retry = await _buy(client, buyer, item["id"], headers=k)
    assert retry.status_code == 201, retry.text
    assert await balance(client, buyer) == 70


async def test_bundles_grant_their_contents(client):
    boss, buyer = await _setup(client, funds=200)
    theme = await create_item(client, boss, type="theme", price=50)
    avatar = await create_item(client, boss, type="avatar", price=50)
    bundle = await create_item(
        client, boss, type="bundle", price=80, contents=[theme["id"], avatar["id"]]
    )
    assert (await _buy(client, buyer, theme["id"])).status_code == 201
    response = await _buy(client, buyer, bundle["id"])
    assert response.status_code == 201, response.text
    assert set(response.json()["purchase"]["grantedItemIds"]) == {bundle["id"], avatar["id"]}
    owned = {e["item"]["id"]: e for e in await inventory(client, buyer)}
    assert set(owned) == {theme["id"], avatar["id"], bundle["id"]}
    assert owned[avatar["id"]]["viaBundleId"] == bundle["id"]
    assert owned[theme["id"]]["viaBundleId"] is None
    assert_error(await _buy(client, buyer, bundle["id"]), 409, "ALREADY_OWNED")
    assert_error(await _buy(client, buyer, avatar["id"]), 409, "ALREADY_OWNED")
    assert await balance(client, buyer) == 70


async def test_renting_extends_and_buying_converts(client):
    boss, buyer = await _setup(client)
    item = await create_item(client, boss, price=40, rentalPrice=5, rentalSeconds=3600)
    first = await _buy(client, buyer, item["id"], rent=True)
    assert first.status_code == 201, first.text
    until = first.json()["purchase"]["validUntil"]
    second = await _buy(client, buyer, item["id"], rent=True)
    assert second.status_code == 201, second.text
    from datetime import datetime

    extended = datetime.fromisoformat(second.json()["purchase"]["validUntil"])
    assert extended - datetime.fromisoformat(until) == timedelta(seconds=3600)
    (entry,) = await inventory(client, buyer)
    assert entry["kind"] == "rental"
    assert datetime.fromisoformat(entry["validUntil"]) == extended
    bought = await _buy(client, buyer, item["id"])
    assert bought.status_code == 201, bought.text
    (entry,) = await inventory(client, buyer)
    assert entry["kind"] == "owned" and entry["validUntil"] is None
    assert_error(await _buy(client, buyer, item["id"], rent=True), 409, "ALREADY_OWNED")
    assert await balance(client, buyer) == 100 - 5 - 5 - 40


async def test_an_expired_rental_stops_counting_at_once(client):
    boss, buyer = await _setup(client)
    item = await create_item(client, boss, price=40, rentalPrice=5, rentalSeconds=3600)
    assert (await _buy(client, buyer, item["id"], rent=True)).status_code == 201
    await Ownership.get_pymongo_collection().update_one(
        {"item_id": ObjectId(item["id"])},
        {"$set": {"valid_until": utcnow() - timedelta(seconds=1)}},
    )
    assert await inventory(client, buyer) == []
    assert not await services(client).shop.owns(ObjectId(buyer["user"]["id"]), ObjectId(item["id"]))
    again = await _buy(client, buyer, item["id"], rent=True)
    assert again.status_code == 201, again.text
    from datetime import datetime

    until = datetime.fromisoformat(again.json()["purchase"]["validUntil"])
    assert until > utcnow() + timedelta(seconds=3500)
