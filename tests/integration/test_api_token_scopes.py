"""API-token scopes are enforced by the managers, everywhere: a read-only token cannot move
money, buy, change a family or workspace, or mark notifications read; a token with the right
scope (and a login session) can. The checks live in the managers, so they hold for every
caller (HTTP, an agent acting for the token's user, ...)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from auth.manager import ClientContext
from auth.scopes import KNOWN_SCOPES
from server.core.errors import Forbidden
from server.groups.documents import GroupRequest, Invitation, Membership
from server.shop.documents import Purchase, ShopItem
from server.wallet.documents import Transfer
from server.wallet.schemas import Party, TransferRequest
from tests.helpers import assert_error, detail_context, services
from tests.integration.access_matrix import RULES, concrete, group_routes
from tests.integration.groups_support import (
    BASES,
    create_group,
    family_with,
    fund,
    group_balance,
    invite,
    person,
)
from tests.integration.shop_support import create_item
from tests.integration.wallet_support import admin, balance, mint

pytestmark = pytest.mark.integration

TOKENS = "/api/v1/auth/tokens"
READ_ONLY = ("wallet:read", "shop:read", "families:read", "workspaces:read", "notifications:read")


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def token_for(client: httpx.AsyncClient, user: dict[str, Any], *scopes: str) -> str:
    """A permanent API token with `scopes` (the user's session is fresh: no step-up needed)."""
    response = await client.post(
        TOKENS, json={"name": "script", "scopes": list(scopes)}, headers=user["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]  # type: ignore[no-any-return]


def as_token(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def assert_scope_refused(response: httpx.Response, scope: str | None = None) -> None:
    error = assert_error(response, 403, "INSUFFICIENT_SCOPE")
    if scope is not None:
        assert detail_context(error) == [{"scope": scope}], error


async def transfers_count() -> int:
    return await Transfer.get_pymongo_collection().count_documents({"kind": "transfer"})


async def test_read_token_reads_the_wallet_but_cannot_transfer(client):
    """A `wallet:read` token: GET /wallet works; POST /wallet/transfers is 403, writes nothing."""
    sender, receiver = await person(client, "snd"), await person(client, "rcv")
    await mint(client, await admin(client), sender["username"], 100)
    read = await token_for(client, sender, "wallet:read")

    wallet = await client.get("/api/v1/wallet", headers=as_token(read))
    assert wallet.status_code == 200, wallet.text
    assert wallet.json()["balance"] == 100
    listed = await client.get("/api/v1/wallet/transfers", headers=as_token(read))
    assert listed.status_code == 200, listed.text

    refused = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": receiver["username"]}, "amount": 10},
        headers=as_token(read, **key()),
    )
    assert_scope_refused(refused, "wallet:transfer")
    assert await transfers_count() == 0
    assert await balance(client, sender) == 100 and await balance(client, receiver) == 0

    # Admin wallet operations need `wallet:admin`, even for an administrator.
    boss = await admin(client)
    boss_read = await token_for(client, boss, "wallet:read", "wallet:transfer")
    minted = await client.post(
        "/api/v1/admin/wallet/mint",
        json={"to": {"username": sender["username"]}, "amount": 5, "reason": "x"},
        headers=as_token(boss_read, **key()),
    )
    assert_scope_refused(minted, "wallet:admin")
    assert await balance(client, sender) == 100


@pytest.mark.parametrize("scopes", [("wallet:transfer",), ("wallet:*",), ("*",)])
async def test_a_token_with_the_transfer_scope_can_transfer(client, scopes):
    sender, receiver = await person(client, "snd"), await person(client, "rcv")
    await mint(client, await admin(client), sender["username"], 100)
    token = await token_for(client, sender, *scopes)
    sent = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": receiver["username"]}, "amount": 30},
        headers=as_token(token, **key()),
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["balance"] == 70
    assert await balance(client, receiver) == 30 and await transfers_count() == 1


async def test_a_read_only_token_cannot_buy_in_the_shop(client):
    boss = await admin(client)
    item = await create_item(client, boss, price=10)
    buyer = await person(client, "buy")
    await mint(client, boss, buyer["username"], 50)
    read = await token_for(client, buyer, *READ_ONLY)

    assert (await client.get("/api/v1/shop/items", headers=as_token(read))).status_code == 200
    assert (await client.get("/api/v1/shop/inventory", headers=as_token(read))).status_code == 200
    refused = await client.post(
        "/api/v1/shop/purchases", json={"itemId": item["id"]}, headers=as_token(read, **key())
    )
    assert_scope_refused(refused, "shop:purchase")
    assert await Purchase.count() == 0 and await balance(client, buyer) == 50

    buy = await token_for(client, buyer, "shop:purchase")
    bought = await client.post(
        "/api/v1/shop/purchases", json={"itemId": item["id"]}, headers=as_token(buy, **key())
    )
    assert bought.status_code == 201, bought.text
    assert await balance(client, buyer) == 40

    # The catalogue is edited with `shop:admin` only (and the shop-admin role).
    boss_token = await token_for(client, boss, "shop:read", "shop:purchase")
    created = await client.post(
        "/api/v1/shop/items",
        json={"slug": "scoped-theme", "type": "theme", "name": "Scoped", "price": 1},
        headers=as_token(boss_token),
    )
    assert_scope_refused(created, "shop:admin")
    assert await ShopItem.count() == 1
    catalogue_token = await token_for(client, boss, "shop:admin")
    created = await client.post(
        "/api/v1/shop/items",
        json={"slug": "scoped-theme", "type": "theme", "name": "Scoped", "price": 1},
        headers=as_token(catalogue_token),
    )
    assert created.status_code == 201, created.text


async def test_paying_with_a_family_wallet_needs_the_family_write_scope(client):
    boss = await admin(client)
    item = await create_item(client, boss, price=10)
    parent, _, family_id = await family_with(client, 0)
    await fund(client, "family", family_id, 100, parent)
    token = await token_for(client, parent, "shop:purchase", "families:read")
    refused = await client.post(
        "/api/v1/shop/purchases",
        json={"itemId": item["id"], "payWith": {"familyId": family_id}},
        headers=as_token(token, **key()),
    )
    assert_scope_refused(refused, "families:write")
    assert await Purchase.count() == 0
    assert await group_balance(client, "family", family_id, parent) == 100


async def test_a_read_only_token_cannot_create_a_family_or_a_workspace(client):
    user = await person(client, "fam")
    read = await token_for(client, user, *READ_ONLY)
    for kind, scope in (("family", "families:write"), ("workspace", "workspaces:write")):
        refused = await client.post(
            BASES[kind], json={"name": "Scoped group"}, headers=as_token(read)
        )
        assert_scope_refused(refused, scope)
        listed = await client.get(BASES[kind], headers=as_token(read))
        assert listed.status_code == 200 and listed.json()["items"] == []
    assert await Membership.count() == 0
    write = await token_for(client, user, "families:write")
    created = await client.post(BASES["family"], json={"name": "Scoped"}, headers=as_token(write))
    assert created.status_code == 201, created.text


async def test_approving_a_token_request_needs_write_and_transfer_scopes(client):
    parent, [child], family_id = await family_with(client, 1)
    await fund(client, "family", family_id, 1000, parent)
    asked = await client.post(
        f"{BASES['family']}/{family_id}/token-requests",
        json={"amount": 500, "reason": "school trip"},
        headers=child["headers"],
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    approve = f"{BASES['family']}/{family_id}/token-requests/{asked.json()['id']}/approve"

    read = await token_for(client, parent, *READ_ONLY)
    assert_scope_refused(await client.post(approve, headers=as_token(read)), "families:write")
    write_only = await token_for(client, parent, "families:write")
    assert_scope_refused(
        await client.post(approve, headers=as_token(write_only)), "wallet:transfer"
    )
    request = await GroupRequest.get(asked.json()["id"])
    assert request is not None and request.status == "pending"
    assert await group_balance(client, "family", family_id, parent) == 1000
    assert await balance(client, child) == 0

    both = await token_for(client, parent, "families:write", "wallet:transfer")
    approved = await client.post(approve, headers=as_token(both))
    assert approved.status_code == 200, approved.text
    assert await balance(client, child) == 500


async def test_a_read_only_token_cannot_mark_notifications_read(client):
    admin_user, [member], family_id = await family_with(client, 1)
    # Something to read: the member asks for tokens, the admin is notified.
    asked = await client.post(
        f"{BASES['family']}/{family_id}/token-requests",
        json={"amount": 500, "reason": "new shoes"},
        headers=member["headers"],
    )
    assert asked.status_code == 201, asked.text
    read = await token_for(client, admin_user, *READ_ONLY)
    page = await client.get("/api/v1/notifications", headers=as_token(read))
    assert page.status_code == 200, page.text
    unread = page.json()["unreadCount"]
    assert unread >= 1
    refused = await client.post(
        "/api/v1/notifications/read", json={"all": True}, headers=as_token(read)
    )
    assert_scope_refused(refused, "notifications:write")
    muted = await client.put(
        "/api/v1/notifications/preferences",
        json={"mutedTypes": ["token_request.created"]},
        headers=as_token(read),
    )
    assert_scope_refused(muted, "notifications:write")
    after = await client.get("/api/v1/notifications", headers=admin_user["headers"])
    assert after.json()["unreadCount"] == unread
    prefs = await client.get("/api/v1/notifications/preferences", headers=as_token(read))
    assert prefs.status_code == 200 and prefs.json()["mutedTypes"] == []

    write = await token_for(client, admin_user, "notifications:write")
    done = await client.post(
        "/api/v1/notifications/read", json={"all": True}, headers=as_token(write)
    )
    assert done.status_code == 200 and done.json()["unreadCount"] == 0, done.text
    # A token without any notifications scope cannot even read them.
    wallet_only = await token_for(client, admin_user, "wallet:read")
    assert_scope_refused(
        await client.get("/api/v1/notifications", headers=as_token(wallet_only)),
        "notifications:read",
    )


async def test_full_sessions_and_star_tokens_keep_working(client):
    boss = await admin(client)
    item = await create_item(client, boss, price=5)
    user, other = await person(client, "full"), await person(client, "oth")
    await mint(client, boss, user["username"], 100)
    star = await token_for(client, user, "*")
    for headers in (user["headers"], as_token(star)):
        sent = await client.post(
            "/api/v1/wallet/transfers",
            json={"to": {"username": other["username"]}, "amount": 1},
            headers={**headers, **key()},
        )
        assert sent.status_code == 201, sent.text
        created = await client.post(BASES["workspace"], json={"name": "Mine"}, headers=headers)
        assert created.status_code == 201, created.text
    bought = await client.post(
        "/api/v1/shop/purchases", json={"itemId": item["id"]}, headers=as_token(star, **key())
    )
    assert bought.status_code == 201, bought.text
    read = await client.post(
        "/api/v1/notifications/read", json={"all": True}, headers=as_token(star)
    )
    assert read.status_code == 200, read.text


async def test_an_agent_acting_for_a_token_keeps_its_scopes(client):
    """The scope check is in the manager: an agent-channel actor of a read-only token is
    refused too (`Actor.with_channel` keeps the scopes)."""
    sender, receiver = await person(client, "snd"), await person(client, "rcv")
    await mint(client, await admin(client), sender["username"], 100)
    read = await token_for(client, sender, "wallet:read")
    svc = services(client)
    actor = await svc.auth.authenticate(read, ClientContext())
    agent = actor.with_channel("agent")
    assert agent.scopes == frozenset({"wallet:read"})
    assert (await svc.wallet.my_wallet(agent)).balance == 100
    with pytest.raises(Forbidden) as refused:
        await svc.wallet.transfer(
            agent,
            TransferRequest(to=Party(username=receiver["username"]), amount=5),
            idempotency_key=uuid.uuid4().hex,
        )
    assert refused.value.code == "INSUFFICIENT_SCOPE"
    assert await transfers_count() == 0


def test_every_enforced_scope_is_a_known_scope():
    """A scope a manager checks must be one a token can be given (else nobody could)."""
    enforced = {
        "wallet:read",
        "wallet:transfer",
        "wallet:admin",
        "shop:read",
        "shop:purchase",
        "shop:admin",
        "families:read",
        "families:write",
        "workspaces:read",
        "workspaces:write",
        "notifications:read",
        "notifications:write",
    }
    assert enforced <= KNOWN_SCOPES


@pytest.mark.parametrize("kind", ["family", "workspace"])
async def test_every_mutating_group_route_refuses_a_read_only_token(client, kind):
    """Generated from the access matrix: with the group's admin (owner) holding a read-only
    token, every non-GET route is 403 INSUFFICIENT_SCOPE and every GET route answers 200."""
    area = "families" if kind == "family" else "workspaces"
    routes = group_routes(client.app, kind)
    rules = RULES[kind]
    assert routes == set(rules), "access_matrix.RULES is out of date"
    owner, [member], gid = await family_with(client, 1, kind=kind)
    outsider = await person(client, "inv")
    pending = await invite(client, kind, gid, owner, outsider)
    read = await token_for(client, owner, *READ_ONLY)
    other_area = "workspaces" if area == "families" else "families"
    # Every scope except this kind's write scope: only that one is missing.
    almost = await token_for(
        client, owner, f"{area}:read", f"{other_area}:*", "wallet:*", "shop:*", "notifications:*"
    )
    mutating = 0
    for (method, suffix), (_, body) in sorted(rules.items()):
        path = concrete(kind, gid, suffix, member["id"])
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if method == "GET":
            response = await client.request(method, path, headers=as_token(read))
            assert response.status_code == 200, (method, suffix, response.text)
            continue
        mutating += 1
        for token in (read, almost):
            response = await client.request(
                method, path, headers=as_token(token, **key()), **kwargs
            )
            assert response.status_code == 403, (method, suffix, response.text)
            assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE", (method, suffix)
    assert mutating >= 15
    # Creating a group, and answering an invitation, need the write scope too.
    assert_scope_refused(
        await client.post(BASES[kind], json={"name": "Another"}, headers=as_token(read)),
        f"{area}:write",
    )
    outsider_read = await token_for(client, outsider, *READ_ONLY)
    inbox = await client.get("/api/v1/invitations", headers=as_token(outsider_read))
    assert inbox.status_code == 200 and [i["id"] for i in inbox.json()["items"]] == [pending["id"]]
    for verb in ("accept", "decline"):
        answered = await client.post(
            f"/api/v1/invitations/{pending['id']}/{verb}", headers=as_token(outsider_read)
        )
        assert_scope_refused(answered, f"{area}:write")
    # Nothing the refused calls tried happened.
    group = await client.get(f"{BASES[kind]}/{gid}", headers=owner["headers"])
    assert group.status_code == 200, group.text
    assert group.json()["memberCount"] == 2 and not group.json()["frozen"]
    assert group.json()["name"] != "Renamed group"
    invitation = await Invitation.get(pending["id"])
    assert invitation is not None and invitation.status == "pending"
    assert await GroupRequest.count() == 0


async def test_the_invitation_inbox_shows_only_readable_kinds(client):
    fam_admin = await person(client, "fa")
    ws_owner = await person(client, "wo")
    invitee = await person(client, "iv")
    family = await create_group(client, fam_admin, "family")
    workspace = await create_group(client, ws_owner, "workspace", name="Work")
    to_family = await invite(client, "family", family["id"], fam_admin, invitee)
    await invite(client, "workspace", workspace["id"], ws_owner, invitee)
    family_only = await token_for(client, invitee, "families:read")
    inbox = await client.get("/api/v1/invitations", headers=as_token(family_only))
    assert inbox.status_code == 200, inbox.text
    assert [i["id"] for i in inbox.json()["items"]] == [to_family["id"]]
    neither = await token_for(client, invitee, "wallet:read")
    assert_scope_refused(await client.get("/api/v1/invitations", headers=as_token(neither)))
    session = await client.get("/api/v1/invitations", headers=invitee["headers"])
    assert len(session.json()["items"]) == 2
