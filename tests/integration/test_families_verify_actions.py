"""verify-action for every family write: schema-checked events, only insiders hear them, and
the events applied to the state before equal the state after."""

from __future__ import annotations

import pytest

from tests.integration.groups_support import (
    family_with,
    fund,
    invite,
    key,
    person,
)
from tests.integration.verify_support import Verifier

pytestmark = pytest.mark.integration


async def test_every_family_action_verifies(client):
    admin, [m1, m2], fid = await family_with(client, 2)
    other_admin, [other_member], other_id = await family_with(client, 1)
    i, j, k = await person(client), await person(client), await person(client)
    await fund(client, "family", fid, 2000, admin)
    outsiders = [f"family:{other_id}", f"user:{other_admin['id']}", f"user:{other_member['id']}"]
    v = Verifier(client, "family", fid, admin, [admin, m1, m2, i, j, k], outsiders)
    c, h, base = client, admin["headers"], f"/api/v1/families/{fid}"

    await v.check("rename", lambda: c.patch(base, json={"name": "Verified family"}, headers=h))
    inv_i = {}

    async def invite_i():
        inv_i.update(await invite(c, "family", fid, admin, i, relationship="sibling"))
        return await c.get(base, headers=h)

    heard = await v.check("invite", invite_i)
    assert [e["type"] for e in heard[f"user:{i['id']}"]] == [
        "family.invitation_received",
        "notification.created",
    ]
    await v.check("resend", lambda: c.post(f"{base}/invitations/{inv_i['id']}/resend", headers=h))
    heard = await v.check(
        "accept", lambda: c.post(f"/api/v1/invitations/{inv_i['id']}/accept", headers=i["headers"])
    )
    assert "family.relationship_changed" in [e["type"] for e in heard[f"family:{fid}"]]
    inv_j = await invite(c, "family", fid, admin, j)
    await v.check(
        "decline",
        lambda: c.post(f"/api/v1/invitations/{inv_j['id']}/decline", headers=j["headers"]),
    )
    inv_k = await invite(c, "family", fid, admin, k)
    await v.check("cancel", lambda: c.delete(f"{base}/invitations/{inv_k['id']}", headers=h))
    for role in ("admin", "member"):
        await v.check(
            f"role {role}",
            lambda role=role: c.put(
                f"{base}/members/{m1['id']}/role", json={"role": role}, headers=h
            ),
        )
    await v.check(
        "permissions",
        lambda: c.put(
            f"{base}/wallet/permissions/{m2['id']}",
            json={"canSpend": True, "perTransactionLimit": 100, "monthlyLimit": 500},
            headers=h,
        ),
    )
    await v.check(
        "spend",
        lambda: c.post(
            f"{base}/wallet/transfers",
            json={"to": {"username": i["username"]}, "amount": 40},
            headers={**m2["headers"], **key()},
        ),
    )
    await v.check(
        "small request",
        lambda: c.post(
            f"{base}/token-requests",
            json={"amount": 30, "reason": "ice cream"},
            headers=m2["headers"],
        ),
    )
    for verb in ("approve", "deny"):
        big = await c.post(
            f"{base}/token-requests",
            json={"amount": 300, "reason": "new shoes"},
            headers=m2["headers"],
        )
        await v.check(
            verb,
            lambda verb=verb, big=big: c.post(
                f"{base}/token-requests/{big.json()['id']}/{verb}", headers=h
            ),
        )
    await v.check(
        "freeze", lambda: c.post(f"{base}/wallet/freeze", json={"reason": "lost card"}, headers=h)
    )
    vote = {}

    async def open_vote():
        response = await c.post(
            f"{base}/emergency-unfreeze", json={"reason": "need groceries"}, headers=m2["headers"]
        )
        vote.update(response.json())
        return response

    await v.check("open emergency unfreeze", open_vote)
    await v.check(
        "vote emergency unfreeze",
        lambda: c.post(
            f"{base}/emergency-unfreeze/{vote['id']}/vote",
            json={"approve": True},
            headers=i["headers"],
        ),
    )
    await v.check(
        "freeze again", lambda: c.post(f"{base}/wallet/freeze", json={"reason": "again"}, headers=h)
    )
    await v.check("unfreeze", lambda: c.post(f"{base}/wallet/unfreeze", headers=h))
    await v.check(
        "relationship",
        lambda: c.put(
            f"{base}/relationships/{m1['id']}", json={"relationship": "spouse"}, headers=h
        ),
    )
    await v.check("backup admin", lambda: c.put(f"{base}/backup-admins/{m1['id']}", headers=h))
    await v.check(
        "no backup admin", lambda: c.delete(f"{base}/backup-admins/{m1['id']}", headers=h)
    )
    await v.check("remove", lambda: c.delete(f"{base}/members/{i['id']}", headers=h))
    await v.check("leave", lambda: c.post(f"{base}/leave", headers=m1["headers"]))
    assert len(v.log) == 23
