"""Workspaces: owner, admin, editor, viewer; the owner's special rules; the team wallet."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error
from tests.integration.groups_support import (
    balance_of,
    create_group,
    fund,
    join,
    key,
    person,
)

pytestmark = pytest.mark.integration
W = "/api/v1/workspaces"


async def team(client):
    owner = await person(client, "own")
    ws = await create_group(client, owner, "workspace", name="Rocket team")
    admin, editor, viewer = await person(client), await person(client), await person(client)
    await join(client, "workspace", ws["id"], owner, admin, role="admin")
    await join(client, "workspace", ws["id"], admin, editor, role="editor")
    await join(client, "workspace", ws["id"], admin, viewer)
    return owner, admin, editor, viewer, ws["id"]


async def test_roles_on_joining_and_owner_cannot_be_removed_or_reroled(client):
    owner, admin, editor, viewer, wid = await team(client)
    members = (await client.get(f"{W}/{wid}/members", headers=viewer["headers"])).json()["items"]
    assert {m["userId"]: m["role"] for m in members} == {
        owner["id"]: "owner",
        admin["id"]: "admin",
        editor["id"]: "editor",
        viewer["id"]: "viewer",
    }
    assert_error(
        await client.delete(f"{W}/{wid}/members/{owner['id']}", headers=admin["headers"]), 403
    )
    reroled = await client.put(
        f"{W}/{wid}/members/{owner['id']}/role", json={"role": "viewer"}, headers=admin["headers"]
    )
    assert_error(reroled, 403, "OWNER_ROLE")
    as_owner = await client.put(
        f"{W}/{wid}/members/{viewer['id']}/role", json={"role": "owner"}, headers=owner["headers"]
    )
    assert_error(as_owner, 403, "OWNER_ROLE")
    assert_error(
        await client.post(f"{W}/{wid}/leave", headers=owner["headers"]), 409, "OWNER_CANNOT_LEAVE"
    )
    by_editor = await client.put(
        f"{W}/{wid}/members/{viewer['id']}/role", json={"role": "editor"}, headers=editor["headers"]
    )
    assert_error(by_editor, 403, "WORKSPACE_ADMIN_REQUIRED")
    ok = await client.put(
        f"{W}/{wid}/members/{viewer['id']}/role", json={"role": "editor"}, headers=admin["headers"]
    )
    assert ok.status_code == 200 and ok.json()["role"] == "editor"
    bad = await client.put(
        f"{W}/{wid}/members/{viewer['id']}/role", json={"role": "boss"}, headers=admin["headers"]
    )
    assert_error(bad, 422, "INVALID_ROLE")
    # Admins manage members, but only the owner removes an admin.
    assert (
        await client.delete(f"{W}/{wid}/members/{editor['id']}", headers=admin["headers"])
    ).status_code == 204
    assert_error(
        await client.delete(f"{W}/{wid}/members/{admin['id']}", headers=viewer["headers"]), 403
    )
    assert (
        await client.delete(f"{W}/{wid}/members/{admin['id']}", headers=owner["headers"])
    ).status_code == 204


async def test_only_the_owner_deletes_or_transfers_ownership(client):
    owner, admin, editor, _viewer, wid = await team(client)
    await fund(client, "workspace", wid, 500, owner)
    assert_error(
        await client.delete(f"{W}/{wid}", headers=admin["headers"]), 403, "DELETE_NOT_ALLOWED"
    )
    moved = await client.post(
        f"{W}/{wid}/transfer-ownership", json={"userId": editor["id"]}, headers=admin["headers"]
    )
    assert_error(moved, 403, "OWNER_REQUIRED")
    moved = await client.post(
        f"{W}/{wid}/transfer-ownership", json={"userId": editor["id"]}, headers=owner["headers"]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["ownerId"] == editor["id"] and moved.json()["myRole"] == "admin"
    assert_error(await client.delete(f"{W}/{wid}", headers=owner["headers"]), 403)
    gone = await client.delete(f"{W}/{wid}", headers=editor["headers"])
    assert gone.status_code == 204
    # The balance went to the admins (the old owner, the admin, the new owner): 500 = 166*3 + 2.
    assert await balance_of(client, editor) == 168
    assert await balance_of(client, owner) == 166
    assert await balance_of(client, admin) == 166


async def test_team_wallet_follows_the_same_spending_rules(client):
    owner, admin, editor, viewer, wid = await team(client)
    await fund(client, "workspace", wid, 1000, owner)
    spend = {"to": {"username": viewer["username"]}, "amount": 10}
    refused = await client.post(
        f"{W}/{wid}/wallet/transfers", json=spend, headers={**editor["headers"], **key()}
    )
    assert_error(refused, 403, "SPEND_NOT_ALLOWED")
    ok = await client.post(
        f"{W}/{wid}/wallet/transfers", json=spend, headers={**admin["headers"], **key()}
    )
    assert ok.status_code == 201, ok.text
    req = await client.post(
        f"{W}/{wid}/token-requests",
        json={"amount": 400, "reason": "conference"},
        headers=editor["headers"],
    )
    assert req.json()["status"] == "pending"
    ok = await client.post(
        f"{W}/{wid}/token-requests/{req.json()['id']}/approve", headers=owner["headers"]
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert await balance_of(client, editor) == 400
    frozen = await client.post(
        f"{W}/{wid}/wallet/freeze", json={"reason": "audit"}, headers=admin["headers"]
    )
    assert frozen.status_code == 200
    vote = await client.post(
        f"{W}/{wid}/emergency-unfreeze", json={"reason": "payroll due"}, headers=viewer["headers"]
    )
    assert vote.status_code == 201 and vote.json()["required"] == 2
    done = await client.post(
        f"{W}/{wid}/emergency-unfreeze/{vote.json()['id']}/vote",
        json={"approve": True},
        headers=editor["headers"],
    )
    assert done.json()["status"] == "approved"
    assert not (await client.get(f"{W}/{wid}", headers=viewer["headers"])).json()["frozen"]


async def test_workspace_invitations_accept_decline_and_inbox_lists_both_kinds(client):
    owner = await person(client)
    ws = await create_group(client, owner, "workspace", name="Design crew")
    fam = await create_group(client, owner, "family", name="Home crew")
    guest = await person(client)
    await client.post(
        f"{W}/{ws['id']}/invitations",
        json={"username": guest["username"], "role": "editor"},
        headers=owner["headers"],
    )
    bad_role = await client.post(
        f"{W}/{ws['id']}/invitations",
        json={"username": guest["username"], "role": "owner"},
        headers=owner["headers"],
    )
    assert_error(bad_role, 422, "INVALID_ROLE")
    await client.post(
        f"/api/v1/families/{fam['id']}/invitations",
        json={"username": guest["username"], "relationship": "cousin"},
        headers=owner["headers"],
    )
    inbox = (await client.get("/api/v1/invitations", headers=guest["headers"])).json()["items"]
    assert sorted((i["groupKind"], i["groupName"]) for i in inbox) == [
        ("family", "Home crew"),
        ("workspace", "Design crew"),
    ]
    ws_inv = next(i for i in inbox if i["groupKind"] == "workspace")
    fam_inv = next(i for i in inbox if i["groupKind"] == "family")
    joined = await client.post(
        f"/api/v1/invitations/{ws_inv['id']}/accept", headers=guest["headers"]
    )
    assert joined.json()["role"] == "editor"
    declined = await client.post(
        f"/api/v1/invitations/{fam_inv['id']}/decline", headers=guest["headers"]
    )
    assert declined.json()["status"] == "declined"
    assert (await client.get("/api/v1/invitations", headers=guest["headers"])).json()["items"] == []
    mine = (await client.get(W, headers=guest["headers"])).json()["items"]
    assert [(w["name"], w["myRole"]) for w in mine] == [("Design crew", "editor")]
