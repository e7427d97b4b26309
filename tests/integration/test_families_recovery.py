"""Backup admins and recovery when no active admin remains."""

from __future__ import annotations

import pytest
from bson import ObjectId

from auth.documents import User
from tests.helpers import assert_error, services
from tests.integration.groups_support import family_with, shift_clock
from tests.integration.verify_support import checked_events

pytestmark = pytest.mark.integration
F = "/api/v1/families"


async def deactivate(user):
    await User.get_pymongo_collection().update_one(
        {"_id": ObjectId(user["id"])}, {"$set": {"is_active": False}}
    )


async def roles(client, fid, who):
    members = (await client.get(f"{F}/{fid}/members", headers=who["headers"])).json()["items"]
    return {m["userId"]: m["role"] for m in members}


async def test_first_backup_admin_is_promoted_when_no_active_admin_remains(client):
    admin, [a, b, c], fid = await family_with(client, 3)
    for who in (b, a):
        r = await client.put(f"{F}/{fid}/backup-admins/{who['id']}", headers=admin["headers"])
        assert r.status_code == 200, r.text
    by_member = await client.put(f"{F}/{fid}/backup-admins/{c['id']}", headers=a["headers"])
    assert_error(by_member, 403)
    early = await client.post(f"{F}/{fid}/recovery", headers=c["headers"])
    assert_error(early, 409, "ADMIN_PRESENT")
    await deactivate(admin)
    done = await client.post(f"{F}/{fid}/recovery", headers=c["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "promoted" and done.json()["promotedUserId"] == b["id"]
    assert (await roles(client, fid, c))[b["id"]] == "admin"


async def test_without_backup_admins_members_recover_by_quorum_within_72_hours(client):
    admin, members, fid = await family_with(client, 6)  # 7 members: quorum max(2, 3) = 3
    await deactivate(admin)
    a, b, c, d, _e, _f = members
    _, since = await services(client).bus.position(f"family:{fid}")
    opened = await client.post(
        f"{F}/{fid}/recovery", json={"reason": "mum lost her account"}, headers=a["headers"]
    )
    assert opened.status_code == 200, opened.text
    vote = opened.json()["vote"]
    assert opened.json()["outcome"] == "vote" and vote["required"] == 3
    url = f"{F}/{fid}/recovery/{vote['id']}/vote"
    assert (await client.post(url, json={"approve": True}, headers=b["headers"])).json()[
        "status"
    ] == "open"
    shift_clock(client, 71 * 3600)
    done = await client.post(url, json={"approve": True}, headers=c["headers"])
    assert done.json()["status"] == "approved", done.text
    assert (await roles(client, fid, d))[a["id"]] == "admin"
    types = await checked_events(client, f"family:{fid}", since)
    assert types[:3] == ["family.recovery_opened", "family.recovery_voted", "family.recovery_voted"]
    assert "family.recovery_approved" in types and "family.member_role_changed" in types


async def test_recovery_vote_expires_after_72_hours(client):
    admin, [a, b, _c], fid = await family_with(client, 3)
    await deactivate(admin)
    vote = (await client.post(f"{F}/{fid}/recovery", headers=a["headers"])).json()["vote"]
    shift_clock(client, 72 * 3600 + 1)
    late = await client.post(
        f"{F}/{fid}/recovery/{vote['id']}/vote", json={"approve": True}, headers=b["headers"]
    )
    assert_error(late, 409, "VOTE_EXPIRED")
    assert (await roles(client, fid, a))[a["id"]] == "member"
