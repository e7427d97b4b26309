"""Families: creation limits, invitations (re-invite, decline cooldown, expiry with history),
roles and the last-admin rule, leaving and removal, and 404 for non-members."""

from __future__ import annotations

import pytest
from bson import ObjectId

from server.core.actor import Actor
from tests.helpers import assert_error, register, services
from tests.integration.groups_support import (
    create_group,
    family_with,
    invite,
    join,
    person,
    shift_clock,
)

pytestmark = pytest.mark.integration
F = "/api/v1/families"


async def test_create_needs_a_valid_name_and_caps_families_per_user(client):
    mom = await person(client)
    bad = await client.post(F, json={"name": "ab"}, headers=mom["headers"])
    assert_error(bad, 422)
    for i in range(3):
        await create_group(client, mom, name=f"Family {i}")
    fourth = await client.post(F, json={"name": "One too many"}, headers=mom["headers"])
    assert_error(fourth, 409, "FAMILY_LIMIT_REACHED")
    mine = await client.get(F, headers=mom["headers"])
    assert [f["name"] for f in mine.json()["items"]] == ["Family 0", "Family 1", "Family 2"]
    wallet = await client.get(f"{F}/{mine.json()['items'][0]['id']}/wallet", headers=mom["headers"])
    assert wallet.status_code == 200 and wallet.json()["balance"] == 0


async def test_a_joiner_past_their_family_limit_is_refused(client):
    kid = await person(client)
    for i in range(3):
        await create_group(client, kid, name=f"Kid family {i}")
    admin, _, fid = await family_with(client, 0)
    inv = await invite(client, "family", fid, admin, kid)
    accepted = await client.post(f"/api/v1/invitations/{inv['id']}/accept", headers=kid["headers"])
    assert_error(accepted, 409, "FAMILY_LIMIT_REACHED")
    # The refusal rolled the whole acceptance back: the invitation is still open.
    received = await client.get("/api/v1/invitations", headers=kid["headers"])
    assert [i["id"] for i in received.json()["items"]] == [inv["id"]]


async def test_non_members_get_404_and_members_403_on_admin_actions(client):
    admin, [member], fid = await family_with(client, 1)
    stranger = await person(client)
    assert_error(
        await client.get(f"{F}/{fid}", headers=stranger["headers"]), 404, "FAMILY_NOT_FOUND"
    )
    assert_error(await client.get(f"{F}/not-an-id", headers=stranger["headers"]), 404)
    renamed = await client.patch(f"{F}/{fid}", json={"name": "Mine now"}, headers=member["headers"])
    assert_error(renamed, 403, "FAMILY_ADMIN_REQUIRED")
    ok = await client.patch(f"{F}/{fid}", json={"name": "The Joneses"}, headers=admin["headers"])
    assert ok.status_code == 200 and ok.json()["name"] == "The Joneses"


async def test_inviting_someone_already_pending_returns_the_same_invitation(client):
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    first = await client.post(
        f"{F}/{fid}/invitations", json={"username": kid["username"]}, headers=admin["headers"]
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        f"{F}/{fid}/invitations", json={"email": kid["user"]["email"]}, headers=admin["headers"]
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    unknown = await client.post(
        f"{F}/{fid}/invitations", json={"username": "nobody-here"}, headers=admin["headers"]
    )
    assert_error(unknown, 404, "USER_NOT_FOUND")
    bad_rel = await client.post(
        f"{F}/{fid}/invitations",
        json={"username": kid["username"], "relationship": "landlord"},
        headers=admin["headers"],
    )
    assert_error(bad_rel, 422, "INVALID_RELATIONSHIP")


async def test_declined_invitee_cannot_be_reinvited_for_24_hours(client):
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    inv = await invite(client, "family", fid, admin, kid)
    declined = await client.post(f"/api/v1/invitations/{inv['id']}/decline", headers=kid["headers"])
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    again = await client.post(
        f"{F}/{fid}/invitations", json={"username": kid["username"]}, headers=admin["headers"]
    )
    assert_error(again, 409, "RECENTLY_DECLINED")
    shift_clock(client, 23 * 3600)
    assert_error(
        await client.post(
            f"{F}/{fid}/invitations", json={"username": kid["username"]}, headers=admin["headers"]
        ),
        409,
        "RECENTLY_DECLINED",
    )
    shift_clock(client, 24 * 3600 + 5)
    later = await client.post(
        f"{F}/{fid}/invitations", json={"username": kid["username"]}, headers=admin["headers"]
    )
    assert later.status_code == 201, later.text
    assert later.json()["id"] != inv["id"]


async def test_expired_invitation_cannot_be_accepted_and_keeps_its_history(client):
    """Expiry is enforced at the moment of use, before any sweep has run."""
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    inv = await invite(client, "family", fid, admin, kid)
    shift_clock(client, 7 * 24 * 3600 + 1)
    accepted = await client.post(f"/api/v1/invitations/{inv['id']}/accept", headers=kid["headers"])
    assert_error(accepted, 409, "INVITATION_EXPIRED")
    listed = await client.get(f"{F}/{fid}/invitations", headers=admin["headers"])
    assert [(i["id"], i["status"]) for i in listed.json()["items"]] == [(inv["id"], "expired")]
    # A new invitation can be sent; the old one stays in the history.
    fresh = await invite(client, "family", fid, admin, kid)
    assert fresh["id"] != inv["id"]
    statuses = {
        i["id"]: i["status"]
        for i in (await client.get(f"{F}/{fid}/invitations", headers=admin["headers"])).json()[
            "items"
        ]
    }
    assert statuses == {inv["id"]: "expired", fresh["id"]: "pending"}


async def test_sweep_marks_expired_invitations_and_publishes(client):
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    inv = await invite(client, "family", fid, admin, kid)
    svc = services(client)
    _, before = await svc.bus.position(f"user:{kid['id']}")
    shift_clock(client, 8 * 24 * 3600)
    swept = await svc.families.sweep()
    assert swept["invitations"] == 1
    events = await svc.bus.read_since(f"user:{kid['id']}", before)
    assert any(b'"family.invitation_expired"' in e for e in events)
    mine = await client.get("/api/v1/invitations?status=expired", headers=kid["headers"])
    assert [i["id"] for i in mine.json()["items"]] == [inv["id"]]


async def test_cancel_and_resend(client):
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    inv = await invite(client, "family", fid, admin, kid)
    shift_clock(client, 6 * 24 * 3600)
    resent = await client.post(
        f"{F}/{fid}/invitations/{inv['id']}/resend", headers=admin["headers"]
    )
    assert resent.status_code == 200 and resent.json()["expiresAt"] > inv["expiresAt"]
    gone = await client.delete(f"{F}/{fid}/invitations/{inv['id']}", headers=admin["headers"])
    assert gone.status_code == 204
    accept = await client.post(f"/api/v1/invitations/{inv['id']}/accept", headers=kid["headers"])
    assert_error(accept, 409, "INVITATION_NOT_PENDING")
    other = await person(client)
    stolen = await client.post(f"/api/v1/invitations/{inv['id']}/accept", headers=other["headers"])
    assert_error(stolen, 404, "INVITATION_NOT_FOUND")


async def test_family_is_capped_at_twelve_members(client):
    admin, _, fid = await family_with(client, 0)
    for _ in range(11):
        await join(client, "family", fid, admin, await person(client))
    extra = await person(client)
    full = await client.post(
        f"{F}/{fid}/invitations", json={"username": extra["username"]}, headers=admin["headers"]
    )
    assert_error(full, 409, "FAMILY_FULL")


async def test_last_admin_cannot_leave_be_removed_or_demoted(client):
    admin, [member], fid = await family_with(client, 1)
    h = admin["headers"]
    assert_error(await client.post(f"{F}/{fid}/leave", headers=h), 409, "LAST_ADMIN")
    demote = await client.put(
        f"{F}/{fid}/members/{admin['id']}/role", json={"role": "member"}, headers=h
    )
    assert_error(demote, 409, "LAST_ADMIN")
    assert_error(
        await client.delete(f"{F}/{fid}/members/{admin['id']}", headers=h), 409, "LAST_ADMIN"
    )
    # A member cannot promote anyone, themselves included.
    promote = await client.put(
        f"{F}/{fid}/members/{member['id']}/role", json={"role": "admin"}, headers=member["headers"]
    )
    assert_error(promote, 403, "FAMILY_ADMIN_REQUIRED")
    # With a second admin, the first may step down and leave.
    ok = await client.put(
        f"{F}/{fid}/members/{member['id']}/role", json={"role": "admin"}, headers=h
    )
    assert ok.status_code == 200 and ok.json()["role"] == "admin"
    assert (await client.post(f"{F}/{fid}/leave", headers=h)).status_code == 204
    members = await client.get(f"{F}/{fid}/members", headers=member["headers"])
    assert [(m["userId"], m["role"]) for m in members.json()["items"]] == [(member["id"], "admin")]
    assert_error(await client.get(f"{F}/{fid}", headers=h), 404)


async def test_removed_member_loses_access_and_is_told_on_their_channel(client):
    admin, [member], fid = await family_with(client, 1)
    svc = services(client)
    _, before = await svc.bus.position(f"user:{member['id']}")
    gone = await client.delete(f"{F}/{fid}/members/{member['id']}", headers=admin["headers"])
    assert gone.status_code == 204
    assert_error(await client.get(f"{F}/{fid}", headers=member["headers"]), 404)
    events = await svc.bus.read_since(f"user:{member['id']}", before)
    assert any(b'"family.member_removed"' in e for e in events)
    as_member = Actor(user_id=ObjectId(member["id"]), username=member["username"])
    assert not await svc.families.is_member(as_member, fid)
    as_admin = Actor(user_id=ObjectId(admin["id"]), username=admin["username"])
    assert await svc.families.is_member(as_admin, fid)
    fam = await client.get(f"{F}/{fid}", headers=admin["headers"])
    assert fam.json()["memberCount"] == 1


async def test_relationships_are_stored_once_with_both_directions_and_editable(client):
    admin, _, fid = await family_with(client, 0)
    kid = await person(client)
    await join(client, "family", fid, admin, kid, relationship="grandchild")
    rels = (await client.get(f"{F}/{fid}/relationships", headers=admin["headers"])).json()["items"]
    assert sorted((r["userId"], r["relationship"]) for r in rels) == sorted(
        [(kid["id"], "grandchild"), (admin["id"], "grandparent")]
    )
    edited = await client.put(
        f"{F}/{fid}/relationships/{kid['id']}",
        json={"relationship": "ward"},
        headers=admin["headers"],
    )
    assert edited.status_code == 200, edited.text
    rels = (await client.get(f"{F}/{fid}/relationships", headers=kid["headers"])).json()["items"]
    assert sorted((r["userId"], r["relationship"]) for r in rels) == sorted(
        [(kid["id"], "ward"), (admin["id"], "guardian")]
    )
    by_kid = await client.put(
        f"{F}/{fid}/relationships/{admin['id']}",
        json={"relationship": "other"},
        headers=kid["headers"],
    )
    assert_error(by_kid, 403)


async def test_inviting_needs_a_verified_address(client):
    unverified = await register(client)
    fam = await create_group(client, unverified)
    kid = await person(client)
    refused = await client.post(
        f"{F}/{fam['id']}/invitations",
        json={"username": kid["username"]},
        headers=unverified["headers"],
    )
    assert_error(refused, 403, "EMAIL_NOT_VERIFIED")
