"""Issue 15 F1 and F11: token requests against family and workspace wallets over HTTP.

F1: requests of up to 100 tokens were paid at once with no check of role, limits, count or
rate, so any member (or a workspace viewer) could empty the group wallet. Auto-approval is
now a per-member monthly budget decided inside the payout transaction.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import assert_error, services
from tests.integration.groups_support import (
    BASES,
    balance_of,
    create_group,
    family_with,
    fund,
    group_balance,
    join,
    key,
    person,
)

pytestmark = pytest.mark.integration
F = BASES["family"]
W = BASES["workspace"]


async def ask(client, base, gid, who, amount, reason="for the trip"):
    return await client.post(
        f"{base}/{gid}/token-requests",
        json={"amount": amount, "reason": reason},
        headers=who["headers"],
    )


async def member_row(client, base, gid, who, user_id):
    wallet = await client.get(f"{base}/{gid}/wallet", headers=who["headers"])
    assert wallet.status_code == 200, wallet.text
    return next(m for m in wallet.json()["members"] if m["userId"] == user_id)


async def test_member_without_spend_rights_cannot_drain_the_family_wallet(client):
    """F1: a member with canSpend=false and limits 0 made 12 requests of 100 and emptied a
    900-token family wallet. Only the monthly budget (100) is paid at once; the rest waits
    for an admin, and past 10 open requests the member is refused."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 900, admin)
    perms = await client.put(
        f"{F}/{fid}/wallet/permissions/{kid['id']}",
        json={"canSpend": False, "perTransactionLimit": 0, "monthlyLimit": 0},
        headers=admin["headers"],
    )
    assert perms.status_code == 200, perms.text
    answers = [await ask(client, F, fid, kid, 100) for _ in range(12)]
    statuses = [a.json().get("status") for a in answers[:11]]
    assert statuses == ["approved"] + ["pending"] * 10
    assert_error(answers[11], 409, "TOO_MANY_OPEN_REQUESTS")
    assert await group_balance(client, "family", fid, admin) == 800
    assert await balance_of(client, kid) == 100
    row = await member_row(client, F, fid, kid, kid["id"])
    assert (row["autoApproveBudget"], row["autoApproveRemaining"]) == (100, 0)


async def test_small_requests_add_up_against_the_budget(client):
    """F1: the threshold was per request, so many small requests were each paid at once."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    paid = [(await ask(client, F, fid, kid, 40)).json()["status"] for _ in range(3)]
    assert paid == ["approved", "approved", "pending"]
    row = await member_row(client, F, fid, kid, kid["id"])
    assert row["autoApproveRemaining"] == 20
    assert (await ask(client, F, fid, kid, 20)).json()["status"] == "approved"
    assert await balance_of(client, kid) == 100


async def test_concurrent_requests_cannot_overspend_the_budget(client):
    """F1: the budget is counted inside the payout transaction, so requests sent at once
    are paid at most up to the budget."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 900, admin)
    answers = await asyncio.gather(*(ask(client, F, fid, kid, 30) for _ in range(6)))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    approved = [a for a in answers if a.json()["status"] == "approved"]
    assert len(approved) == 3
    assert await balance_of(client, kid) == 90
    assert await group_balance(client, "family", fid, admin) == 810


async def test_workspace_viewer_gets_no_auto_approval(client):
    """F1: a workspace viewer drained the team wallet with requests of 100; viewers have a
    budget of 0, editors the default."""
    owner = await person(client, "own")
    ws = (await create_group(client, owner, "workspace", name="Team budget"))["id"]
    viewer, editor = await person(client, "vw"), await person(client, "ed")
    await join(client, "workspace", ws, owner, viewer)
    await join(client, "workspace", ws, owner, editor, role="editor")
    await fund(client, "workspace", ws, 500, owner)
    assert (await ask(client, W, ws, viewer, 1)).json()["status"] == "pending"
    assert (await ask(client, W, ws, editor, 100)).json()["status"] == "approved"
    row = await member_row(client, W, ws, viewer, viewer["id"])
    assert (row["autoApproveBudget"], row["autoApproveRemaining"]) == (0, 0)
    assert await group_balance(client, "workspace", ws, owner) == 400


async def test_admin_sets_a_members_budget(client):
    """F1: admins set the budget per member (0 stops auto-approval; null = the default)."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 900, admin)
    url = f"{F}/{fid}/wallet/permissions/{kid['id']}"
    none = await client.put(
        url, json={"canSpend": False, "autoApproveBudget": 0}, headers=admin["headers"]
    )
    assert none.status_code == 200 and none.json()["autoApproveBudget"] == 0
    assert (await ask(client, F, fid, kid, 1)).json()["status"] == "pending"
    more = await client.put(
        url, json={"canSpend": False, "autoApproveBudget": 300}, headers=admin["headers"]
    )
    assert more.json()["autoApproveRemaining"] == 300
    # Omitted: unchanged.
    same = await client.put(url, json={"canSpend": False}, headers=admin["headers"])
    assert same.json()["autoApproveBudget"] == 300
    assert (await ask(client, F, fid, kid, 250)).json()["status"] == "approved"
    back = await client.put(
        url, json={"canSpend": False, "autoApproveBudget": None}, headers=admin["headers"]
    )
    assert (back.json()["autoApproveBudget"], back.json()["autoApproveRemaining"]) == (100, 0)
    by_kid = await client.put(url, json={"canSpend": True}, headers=kid["headers"])
    assert_error(by_kid, 403, "FAMILY_ADMIN_REQUIRED")


async def test_frozen_wallet_pays_no_request(client):
    """F1: auto-approval never applies to a frozen wallet."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    frozen = await client.post(
        f"{F}/{fid}/wallet/freeze", json={"reason": "lost phone"}, headers=admin["headers"]
    )
    assert frozen.status_code == 200
    assert_error(await ask(client, F, fid, kid, 10), 409, "WALLET_FROZEN")
    assert await balance_of(client, kid) == 0


@pytest.mark.parametrize("amount", ["5", "1e1", 5.0, 2.5])
async def test_group_amounts_are_whole_numbers_like_personal_transfers(client, amount):
    """F11: group transfers and token requests coerced "5", "1e1" and 5.0 into tokens while
    personal transfers refused them; every amount is now a JSON integer or 422."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    assert_error(await ask(client, F, fid, kid, amount), 422, "INVALID_AMOUNT")
    spend = await client.post(
        f"{F}/{fid}/wallet/transfers",
        json={"to": {"username": kid["username"]}, "amount": amount},
        headers={**admin["headers"], **key()},
    )
    assert_error(spend, 422, "INVALID_AMOUNT")
    personal = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": admin["username"]}, "amount": amount},
        headers={**kid["headers"], **key()},
    )
    assert_error(personal, 422, "INVALID_AMOUNT")
    assert await group_balance(client, "family", fid, admin) == 500


async def test_spend_rechecks_the_permission_inside_the_transaction(client, monkeypatch):
    """Issue 15: `spend()` read the member's permission before its transaction and did not
    re-check it inside, so a canSpend revoked in between still paid. The admin revokes it
    here right after the first check (while the recipient is looked up): refused with 403
    SPEND_NOT_ALLOWED, and nothing moved."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    allowed = {"canSpend": True, "perTransactionLimit": 100, "monthlyLimit": 300}
    perms = f"{F}/{fid}/wallet/permissions/{kid['id']}"
    assert (await client.put(perms, json=allowed, headers=admin["headers"])).status_code == 200
    wallet = services(client).wallet
    resolve = wallet.resolve_party

    async def revoke_then_resolve(party):
        revoked = await client.put(
            perms, json={**allowed, "canSpend": False}, headers=admin["headers"]
        )
        assert revoked.status_code == 200, revoked.text
        return await resolve(party)

    monkeypatch.setattr(wallet, "resolve_party", revoke_then_resolve)
    spent = await client.post(
        f"{F}/{fid}/wallet/transfers",
        json={"to": {"username": admin["username"]}, "amount": 50},
        headers={**kid["headers"], **key()},
    )
    assert_error(spent, 403, "SPEND_NOT_ALLOWED")
    assert await group_balance(client, "family", fid, admin) == 500
    assert await balance_of(client, admin) == 0
