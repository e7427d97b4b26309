"""Races on the shared rules: each must come out exactly once, however requests interleave."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.groups_support import (
    balance_of,
    family_with,
    fund,
    group_balance,
    invite,
    join,
    key,
    person,
)
from tests.integration.wallet_support import audit

pytestmark = pytest.mark.integration
F = "/api/v1/families"


async def test_two_admins_approving_one_request_pay_once(client):
    admin, [second, kid], fid = await family_with(client, 2)
    await client.put(
        f"{F}/{fid}/members/{second['id']}/role", json={"role": "admin"}, headers=admin["headers"]
    )
    await fund(client, "family", fid, 1000, admin)
    for _ in range(3):
        req = await client.post(
            f"{F}/{fid}/token-requests",
            json={"amount": 200, "reason": "school trip"},
            headers=kid["headers"],
        )
        rid = req.json()["id"]
        url = f"{F}/{fid}/token-requests/{rid}"
        results = await asyncio.gather(
            client.post(f"{url}/approve", headers=admin["headers"]),
            client.post(f"{url}/approve", headers=second["headers"]),
            client.post(f"{url}/deny", headers=second["headers"]),
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409, 409], [r.text for r in results]
    paid = 1000 - await group_balance(client, "family", fid, admin)
    assert paid == await balance_of(client, kid)
    assert paid % 200 == 0
    approved = await client.get(f"{F}/{fid}/token-requests?status=approved", headers=kid["headers"])
    assert len(approved.json()["items"]) * 200 == paid
    assert (await audit(client)).ok


async def test_two_people_accepting_the_last_free_seat_one_succeeds(client):
    admin, _, fid = await family_with(client, 0)
    for _ in range(10):  # 11 of 12 seats taken
        await join(client, "family", fid, admin, await person(client))
    a, b = await person(client), await person(client)
    inv_a = await invite(client, "family", fid, admin, a)
    inv_b = await invite(client, "family", fid, admin, b)
    results = await asyncio.gather(
        client.post(f"/api/v1/invitations/{inv_a['id']}/accept", headers=a["headers"]),
        client.post(f"/api/v1/invitations/{inv_b['id']}/accept", headers=b["headers"]),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = results[0] if results[0].status_code == 409 else results[1]
    assert loser.json()["error"]["code"] == "FAMILY_FULL"
    members = await client.get(f"{F}/{fid}/members", headers=admin["headers"])
    assert len(members.json()["items"]) == 12
    fam = await client.get(f"{F}/{fid}", headers=admin["headers"])
    assert fam.json()["memberCount"] == 12


async def test_concurrent_spends_never_exceed_the_monthly_limit(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 10_000, admin)
    await client.put(
        f"{F}/{fid}/wallet/permissions/{kid['id']}",
        json={"canSpend": True, "perTransactionLimit": -1, "monthlyLimit": 250},
        headers=admin["headers"],
    )
    results = await asyncio.gather(
        *(
            client.post(
                f"{F}/{fid}/wallet/transfers",
                json={"to": {"username": admin["username"]}, "amount": 30},
                headers={**kid["headers"], **key()},
            )
            for _ in range(15)
        )
    )
    ok = [r for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert len(ok) == 8  # 8 * 30 = 240 <= 250 < 270
    assert all(r.json()["error"]["code"] == "MONTHLY_LIMIT" for r in refused)
    assert await group_balance(client, "family", fid, admin) == 10_000 - 240
    wallet = (await client.get(f"{F}/{fid}/wallet", headers=kid["headers"])).json()
    assert next(m for m in wallet["members"] if m["userId"] == kid["id"])["periodSpent"] == 240
    assert (await audit(client)).ok


async def test_two_admins_demoting_each_other_leave_one_admin(client):
    """Each demotion takes one from the admin count by compare-and-set: one admin remains."""
    admin, [second], fid = await family_with(client, 1)
    await client.put(
        f"{F}/{fid}/members/{second['id']}/role", json={"role": "admin"}, headers=admin["headers"]
    )
    results = await asyncio.gather(
        client.put(
            f"{F}/{fid}/members/{second['id']}/role",
            json={"role": "member"},
            headers=admin["headers"],
        ),
        client.put(
            f"{F}/{fid}/members/{admin['id']}/role",
            json={"role": "member"},
            headers=second["headers"],
        ),
    )
    # The loser is refused either as the last admin (409) or, if the winner finished before
    # it was checked, as no longer an admin (403).
    codes = sorted(r.status_code for r in results)
    assert codes in ([200, 403], [200, 409]), [r.text for r in results]
    roles = [
        m["role"]
        for m in (await client.get(f"{F}/{fid}/members", headers=admin["headers"])).json()["items"]
    ]
    assert sorted(roles) == ["admin", "member"]
