"""verify-action for workspace writes, including ownership transfer and the team wallet."""

from __future__ import annotations

import pytest

from tests.integration.groups_support import family_with, fund, invite, key, person
from tests.integration.verify_support import Verifier

pytestmark = pytest.mark.integration


async def test_every_workspace_action_verifies(client):
    owner, [viewer], wid = await family_with(client, 1, kind="workspace")
    other_owner, [other_member], other_id = await family_with(client, 1, kind="workspace")
    newbie = await person(client)
    await fund(client, "workspace", wid, 1000, owner)
    outsiders = [
        f"workspace:{other_id}",
        f"user:{other_owner['id']}",
        f"user:{other_member['id']}",
    ]
    v = Verifier(client, "workspace", wid, owner, [owner, viewer, newbie], outsiders)
    c, h, base = client, owner["headers"], f"/api/v1/workspaces/{wid}"
    inv = {}

    async def invite_newbie():
        inv.update(await invite(c, "workspace", wid, owner, newbie, role="admin"))
        return await c.get(base, headers=h)

    await v.check("invite", invite_newbie)
    await v.check(
        "accept",
        lambda: c.post(f"/api/v1/invitations/{inv['id']}/accept", headers=newbie["headers"]),
    )
    await v.check(
        "role",
        lambda: c.put(f"{base}/members/{viewer['id']}/role", json={"role": "editor"}, headers=h),
    )
    await v.check(
        "spend by admin",
        lambda: c.post(
            f"{base}/wallet/transfers",
            json={"to": {"username": viewer["username"]}, "amount": 25},
            headers={**newbie["headers"], **key()},
        ),
    )
    big = await c.post(
        f"{base}/token-requests",
        json={"amount": 200, "reason": "cloud credits"},
        headers=viewer["headers"],
    )
    await v.check(
        "approve",
        lambda: c.post(
            f"{base}/token-requests/{big.json()['id']}/approve", headers=newbie["headers"]
        ),
    )
    await v.check(
        "transfer ownership",
        lambda: c.post(f"{base}/transfer-ownership", json={"userId": newbie["id"]}, headers=h),
    )
    v.viewer = newbie
    await v.check("old owner leaves", lambda: c.post(f"{base}/leave", headers=h))
    await v.check(
        "freeze",
        lambda: c.post(
            f"{base}/wallet/freeze", json={"reason": "quarter end"}, headers=newbie["headers"]
        ),
    )
    assert len(v.log) == 8
