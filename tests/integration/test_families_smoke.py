"""A family from creation to deletion through HTTP (the happy path end to end)."""

from __future__ import annotations

import pytest

from tests.integration.groups_support import (
    balance_of,
    create_group,
    fund,
    group_balance,
    join,
    key,
    person,
)

pytestmark = pytest.mark.integration


async def test_family_lifecycle(client):
    mom = await person(client, "mom")
    kid = await person(client, "kid")
    fam = await create_group(client, mom)
    assert fam["myRole"] == "admin" and fam["memberCount"] == 1
    fid = fam["id"]
    member = await join(client, "family", fid, mom, kid, relationship="child")
    assert member["role"] == "member"
    rels = (
        await client.get(f"/api/v1/families/{fid}/relationships", headers=kid["headers"])
    ).json()["items"]
    assert {"userId": kid["id"], "relatedUserId": mom["id"], "relationship": "child"} in rels
    assert {"userId": mom["id"], "relatedUserId": kid["id"], "relationship": "parent"} in rels
    await fund(client, "family", fid, 1000, mom)
    req = await client.post(
        f"/api/v1/families/{fid}/token-requests",
        json={"amount": 50, "reason": "pocket money"},
        headers=kid["headers"],
    )
    assert req.status_code == 201, req.text
    assert req.json()["status"] == "approved" and req.json()["autoApproved"]
    assert await balance_of(client, kid) == 50
    spend = await client.post(
        f"/api/v1/families/{fid}/wallet/transfers",
        json={"to": {"username": kid["username"]}, "amount": 100},
        headers={**mom["headers"], **key()},
    )
    assert spend.status_code == 201, spend.text
    assert await group_balance(client, "family", fid, mom) == 850
    gone = await client.delete(f"/api/v1/families/{fid}", headers=mom["headers"])
    assert gone.status_code == 204, gone.text
    assert await balance_of(client, mom) == 850
    assert (await client.get(f"/api/v1/families/{fid}", headers=mom["headers"])).status_code == 404
