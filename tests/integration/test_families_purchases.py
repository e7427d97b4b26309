"""Shop purchases paid from the family wallet: allowed ones are paid at once within the
spending rules; the others become purchase requests that an admin approves or denies."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import assert_error, services
from tests.integration.groups_support import (
    family_with,
    fund,
    group_balance,
    key,
    person,
    site_admin,
)
from tests.integration.shop_support import create_item, inventory
from tests.integration.verify_support import checked_events
from tests.integration.wallet_support import audit

pytestmark = pytest.mark.integration
F = "/api/v1/families"


def buy(client, who, item_id, fid):
    return client.post(
        "/api/v1/shop/purchases",
        json={"itemId": item_id, "payWith": {"familyId": fid}},
        headers={**who["headers"], **key()},
    )


async def test_allowed_purchase_is_paid_from_the_family_wallet(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    item = await create_item(client, await site_admin(client), price=40)
    await client.put(
        f"{F}/{fid}/wallet/permissions/{kid['id']}",
        json={"canSpend": True, "perTransactionLimit": 50, "monthlyLimit": 60},
        headers=admin["headers"],
    )
    bought = await buy(client, kid, item["id"], fid)
    assert bought.status_code == 201, bought.text
    assert await group_balance(client, "family", fid, admin) == 460
    assert [i["item"]["id"] for i in await inventory(client, kid)] == [item["id"]]
    wallet = (await client.get(f"{F}/{fid}/wallet", headers=kid["headers"])).json()
    assert next(m for m in wallet["members"] if m["userId"] == kid["id"])["periodSpent"] == 40
    stranger = await person(client)
    assert_error(await buy(client, stranger, item["id"], fid), 404, "FAMILY_NOT_FOUND")


async def test_a_purchase_the_member_may_not_make_becomes_a_request(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    item = await create_item(client, await site_admin(client), price=120, name="Dragon theme")
    _, since = await services(client).bus.position(f"family:{fid}")
    deferred = await buy(client, kid, item["id"], fid)
    assert deferred.status_code == 202, deferred.text
    rid = deferred.json()["detail"]["requestId"]
    assert await group_balance(client, "family", fid, admin) == 500
    [req] = (
        await client.get(f"{F}/{fid}/token-requests?status=pending", headers=admin["headers"])
    ).json()["items"]
    assert req["id"] == rid and req["kind"] == "purchase" and req["amount"] == 120
    url = f"{F}/{fid}/token-requests/{rid}/approve"
    results = await asyncio.gather(
        client.post(url, headers=admin["headers"]), client.post(url, headers=admin["headers"])
    )
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    assert await group_balance(client, "family", fid, admin) == 380
    assert [i["item"]["id"] for i in await inventory(client, kid)] == [item["id"]]
    assert (await audit(client)).ok
    types = await checked_events(client, f"family:{fid}", since)
    assert types == [
        "purchase_request.created",
        "wallet.transfer_completed",
        "purchase_request.approved",
    ]


async def test_denied_purchase_request_moves_nothing(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    item = await create_item(client, await site_admin(client), price=30)
    deferred = await buy(client, kid, item["id"], fid)
    rid = deferred.json()["detail"]["requestId"]
    denied = await client.post(
        f"{F}/{fid}/token-requests/{rid}/deny",
        json={"comment": "not now"},
        headers=admin["headers"],
    )
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert await group_balance(client, "family", fid, admin) == 500
    assert await inventory(client, kid) == []


async def test_workspace_wallet_pays_for_its_admins(client):
    owner, [viewer], wid = await family_with(client, 1, kind="workspace")
    await fund(client, "workspace", wid, 100, owner)
    item = await create_item(client, await site_admin(client), price=25)

    def buy_ws(who):
        return client.post(
            "/api/v1/shop/purchases",
            json={"itemId": item["id"], "payWith": {"workspaceId": wid}},
            headers={**who["headers"], **key()},
        )

    assert (await buy_ws(owner)).status_code == 201
    assert (await buy_ws(viewer)).status_code == 202
    assert await group_balance(client, "workspace", wid, owner) == 75
