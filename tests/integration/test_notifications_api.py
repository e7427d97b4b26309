"""Notifications: stored per recipient, pushed to `user:{id}`, paged, marked read, muted."""

from __future__ import annotations

import json

import pytest

from tests.helpers import assert_error, services
from tests.integration.groups_support import create_group, family_with, invite, join, person

pytestmark = pytest.mark.integration
N = "/api/v1/notifications"


async def test_invitation_creates_a_notification_pushed_live(client):
    admin = await person(client)
    fam = await create_group(client, admin, name="Notified family")
    kid = await person(client)
    bus = services(client).bus
    _, before = await bus.position(f"user:{kid['id']}")
    await invite(client, "family", fam["id"], admin, kid)
    page = (await client.get(N, headers=kid["headers"])).json()
    assert page["unreadCount"] == 1
    [note] = page["items"]
    assert note["type"] == "invitation.received" and not note["read"]
    assert note["data"]["groupId"] == fam["id"]
    events = [json.loads(e) for e in await bus.read_since(f"user:{kid['id']}", before)]
    created = [e for e in events if e["type"] == "notification.created"]
    assert [e["data"]["notification"]["id"] for e in created] == [note["id"]]
    # Nobody else got it.
    assert (await client.get(N, headers=admin["headers"])).json()["items"] == []


async def test_cursor_pagination_and_mark_read(client):
    admin, members, _fid = await family_with(client, 4)
    # Each join notified the admin: 4 notifications, newest first.
    first = (await client.get(f"{N}?limit=3", headers=admin["headers"])).json()
    assert len(first["items"]) == 3 and first["nextCursor"]
    rest = (
        await client.get(f"{N}?limit=3&cursor={first['nextCursor']}", headers=admin["headers"])
    ).json()
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    ids = [n["id"] for n in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    marked = await client.post(f"{N}/read", json={"ids": ids[:2]}, headers=admin["headers"])
    assert marked.status_code == 200 and marked.json() == {"updated": 2, "unreadCount": 2}
    unread = (await client.get(f"{N}?unread=true", headers=admin["headers"])).json()
    assert [n["id"] for n in unread["items"]] == ids[2:]
    # Someone else's ids change nothing.
    other = await client.post(f"{N}/read", json={"ids": ids[2:]}, headers=members[0]["headers"])
    assert other.json()["updated"] == 0
    all_read = await client.post(f"{N}/read", json={"all": True}, headers=admin["headers"])
    assert all_read.json() == {"updated": 2, "unreadCount": 0}
    assert_error(await client.post(f"{N}/read", json={}, headers=admin["headers"]), 422)
    assert_error(await client.get(f"{N}?cursor=nope", headers=admin["headers"]), 422)


async def test_muted_types_are_not_stored(client):
    admin = await person(client)
    fam = await create_group(client, admin, name="Muted family")
    prefs = await client.put(
        f"{N}/preferences", json={"mutedTypes": ["family.member_joined"]}, headers=admin["headers"]
    )
    assert prefs.status_code == 200 and prefs.json() == {"mutedTypes": ["family.member_joined"]}
    assert (await client.get(f"{N}/preferences", headers=admin["headers"])).json() == prefs.json()
    kid = await person(client)
    await join(client, "family", fam["id"], admin, kid)
    assert (await client.get(N, headers=admin["headers"])).json()["items"] == []
    # The invitee was not muting anything: their invitation notification is there.
    assert len((await client.get(N, headers=kid["headers"])).json()["items"]) == 1
    bad = await client.put(
        f"{N}/preferences", json={"mutedTypes": ["Not A Type"]}, headers=admin["headers"]
    )
    assert_error(bad, 422)


async def test_notifications_need_authentication(client):
    assert_error(await client.get(N), 401)
