"""The family wallet: spending permissions and limits, token requests, freeze, emergency
unfreeze by quorum, and the payout to the admins when a family is deleted."""

from __future__ import annotations

import pytest

from server.wallet.errors import WalletFrozen
from tests.helpers import assert_error, services
from tests.integration.groups_support import (
    balance_of,
    family_with,
    fund,
    group_balance,
    key,
    shift_clock,
)
from tests.integration.verify_support import checked_events

pytestmark = pytest.mark.integration
F = "/api/v1/families"


async def spend(client, fid, who, to, amount, **headers):
    return await client.post(
        f"{F}/{fid}/wallet/transfers",
        json={"to": {"username": to["username"]}, "amount": amount},
        headers={**who["headers"], **(headers or key())},
    )


async def test_members_spend_only_within_their_permissions(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 1000, admin)
    assert_error(await spend(client, fid, kid, admin, 10), 403, "SPEND_NOT_ALLOWED")
    perms = await client.put(
        f"{F}/{fid}/wallet/permissions/{kid['id']}",
        json={"canSpend": True, "perTransactionLimit": 50, "monthlyLimit": 120},
        headers=admin["headers"],
    )
    assert perms.status_code == 200, perms.text
    assert_error(await spend(client, fid, kid, admin, 51), 403, "PER_TRANSACTION_LIMIT")
    assert (await spend(client, fid, kid, admin, 50)).status_code == 201
    assert (await spend(client, fid, kid, admin, 50)).status_code == 201
    assert_error(await spend(client, fid, kid, admin, 21), 403, "MONTHLY_LIMIT")
    assert (await spend(client, fid, kid, admin, 20)).status_code == 201
    wallet = (await client.get(f"{F}/{fid}/wallet", headers=kid["headers"])).json()
    assert wallet["balance"] == 880
    mine = next(m for m in wallet["members"] if m["userId"] == kid["id"])
    assert mine["periodSpent"] == 120 and mine["canSpend"]
    # A new month starts a new period.
    shift_clock(client, 32 * 24 * 3600)
    assert (await spend(client, fid, kid, admin, 50)).status_code == 201
    assert_error(await spend(client, fid, kid, admin, 10, **{"Idempotency-Key": ""}), 400)


async def test_spend_is_idempotent_by_key(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 300, admin)
    h = key()
    first = await spend(client, fid, admin, kid, 100, **h)
    again = await spend(client, fid, admin, kid, 100, **h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await balance_of(client, kid) == 100
    other = await spend(client, fid, admin, kid, 99, **h)
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")
    history = await client.get(f"{F}/{fid}/wallet/transfers", headers=kid["headers"])
    assert [t["amount"] for t in history.json()["items"]] == [100, 300]


async def test_token_requests_auto_approve_small_and_wait_for_admin_above(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    short = await client.post(
        f"{F}/{fid}/token-requests", json={"amount": 5, "reason": "pls"}, headers=kid["headers"]
    )
    assert_error(short, 422)
    small = await client.post(
        f"{F}/{fid}/token-requests",
        json={"amount": 100, "reason": "ice cream"},
        headers=kid["headers"],
    )
    assert small.json()["status"] == "approved" and small.json()["autoApproved"]
    big = await client.post(
        f"{F}/{fid}/token-requests",
        json={"amount": 150, "reason": "new game"},
        headers=kid["headers"],
    )
    assert big.status_code == 201 and big.json()["status"] == "pending"
    rid = big.json()["id"]
    by_kid = await client.post(f"{F}/{fid}/token-requests/{rid}/approve", headers=kid["headers"])
    assert_error(by_kid, 403, "FAMILY_ADMIN_REQUIRED")
    ok = await client.post(
        f"{F}/{fid}/token-requests/{rid}/approve", json={"comment": "ok"}, headers=admin["headers"]
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["transferId"]
    again = await client.post(f"{F}/{fid}/token-requests/{rid}/deny", headers=admin["headers"])
    assert_error(again, 409, "REQUEST_NOT_PENDING")
    assert await balance_of(client, kid) == 250
    assert await group_balance(client, "family", fid, admin) == 250
    listed = await client.get(f"{F}/{fid}/token-requests?status=approved", headers=kid["headers"])
    assert {r["id"] for r in listed.json()["items"]} == {small.json()["id"], rid}


async def test_pending_request_expires_after_seven_days(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    big = await client.post(
        f"{F}/{fid}/token-requests",
        json={"amount": 300, "reason": "bike repair"},
        headers=kid["headers"],
    )
    rid = big.json()["id"]
    shift_clock(client, 7 * 24 * 3600 + 1)
    late = await client.post(f"{F}/{fid}/token-requests/{rid}/approve", headers=admin["headers"])
    assert_error(late, 409, "REQUEST_EXPIRED")
    listed = await client.get(f"{F}/{fid}/token-requests", headers=admin["headers"])
    assert [(r["id"], r["status"]) for r in listed.json()["items"]] == [(rid, "expired")]
    assert await balance_of(client, kid) == 0


async def test_frozen_wallet_refuses_spends_and_requests(client):
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    frozen = await client.post(
        f"{F}/{fid}/wallet/freeze", json={"reason": "lost phone"}, headers=admin["headers"]
    )
    assert frozen.status_code == 200 and frozen.json()["frozen"]
    assert_error(
        await spend(client, fid, admin, kid, 10), WalletFrozen.status_code, "WALLET_FROZEN"
    )
    req = await client.post(
        f"{F}/{fid}/token-requests", json={"amount": 10, "reason": "snacks"}, headers=kid["headers"]
    )
    assert_error(req, WalletFrozen.status_code, "WALLET_FROZEN")
    again = await client.post(
        f"{F}/{fid}/wallet/freeze", json={"reason": "x y z"}, headers=admin["headers"]
    )
    assert_error(again, 409, "ALREADY_FROZEN")
    thawed = await client.post(f"{F}/{fid}/wallet/unfreeze", headers=admin["headers"])
    assert thawed.status_code == 200 and not thawed.json()["frozen"]
    assert (await spend(client, fid, admin, kid, 10)).status_code == 201


async def test_emergency_unfreeze_needs_a_quorum_within_48_hours(client):
    admin, members, fid = await family_with(client, 5)  # 6 members: quorum 3
    await client.post(
        f"{F}/{fid}/wallet/freeze", json={"reason": "stolen"}, headers=admin["headers"]
    )
    a, b, c, d, _e = members
    opened = await client.post(
        f"{F}/{fid}/emergency-unfreeze", json={"reason": "admin is away"}, headers=a["headers"]
    )
    assert opened.status_code == 201, opened.text
    vote = opened.json()
    assert vote["required"] == 3 and vote["approvals"] == [a["id"]]
    second = await client.post(
        f"{F}/{fid}/emergency-unfreeze", json={"reason": "me too please"}, headers=b["headers"]
    )
    assert_error(second, 409, "VOTE_ALREADY_OPEN")
    url = f"{F}/{fid}/emergency-unfreeze/{vote['id']}/vote"
    twice = await client.post(url, json={"approve": True}, headers=a["headers"])
    assert_error(twice, 409, "ALREADY_VOTED")
    no = await client.post(url, json={"approve": False}, headers=c["headers"])
    assert no.json()["status"] == "open"
    yes = await client.post(url, json={"approve": True}, headers=b["headers"])
    assert yes.json()["status"] == "open"
    assert (await client.get(f"{F}/{fid}", headers=a["headers"])).json()["frozen"]
    done = await client.post(url, json={"approve": True}, headers=d["headers"])
    assert done.json()["status"] == "approved"
    assert not (await client.get(f"{F}/{fid}", headers=a["headers"])).json()["frozen"]
    closed = await client.post(url, json={"approve": True}, headers=admin["headers"])
    assert_error(closed, 409, "VOTE_CLOSED")


async def test_emergency_unfreeze_vote_expires(client):
    admin, [a, b], fid = await family_with(client, 2)
    await client.post(
        f"{F}/{fid}/wallet/freeze", json={"reason": "stolen"}, headers=admin["headers"]
    )
    vote = (
        await client.post(
            f"{F}/{fid}/emergency-unfreeze", json={"reason": "need it"}, headers=a["headers"]
        )
    ).json()
    shift_clock(client, 48 * 3600 + 1)
    late = await client.post(
        f"{F}/{fid}/emergency-unfreeze/{vote['id']}/vote",
        json={"approve": True},
        headers=b["headers"],
    )
    assert_error(late, 409, "VOTE_EXPIRED")
    assert (await client.get(f"{F}/{fid}", headers=a["headers"])).json()["frozen"]
    # The expired vote no longer blocks a new one.
    again = await client.post(
        f"{F}/{fid}/emergency-unfreeze", json={"reason": "need it"}, headers=b["headers"]
    )
    assert again.status_code == 201


async def test_delete_pays_admins_equal_shares_remainder_to_the_deleter(client):
    admin, [a, b, kid], fid = await family_with(client, 3)
    for other in (a, b):
        r = await client.put(
            f"{F}/{fid}/members/{other['id']}/role",
            json={"role": "admin"},
            headers=admin["headers"],
        )
        assert r.status_code == 200
    await fund(client, "family", fid, 1001, admin)
    _, since = await services(client).bus.position(f"family:{fid}")
    by_kid = await client.delete(f"{F}/{fid}", headers=kid["headers"])
    assert_error(by_kid, 403)
    gone = await client.delete(f"{F}/{fid}", headers=b["headers"])
    assert gone.status_code == 204, gone.text
    assert await balance_of(client, admin) == 333
    assert await balance_of(client, a) == 333
    assert await balance_of(client, b) == 335
    assert await balance_of(client, kid) == 0
    assert_error(await client.get(f"{F}/{fid}", headers=b["headers"]), 404)
    types = await checked_events(client, f"family:{fid}", since)
    assert types.count("wallet.transfer_completed") == 3
    assert types[-2:] == ["family.deletion_payout", "family.deleted"]
    from tests.integration.wallet_support import audit

    report = await audit(client)
    assert report.ok, report
    # The members' family slots are free again.
    assert (await client.get(F, headers=kid["headers"])).json()["items"] == []
