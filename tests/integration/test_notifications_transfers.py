"""Wallet notifications: "transfer received" (and a user's own wallet frozen) are stored for
the recipient, pushed live on `user:{id}`, listed, muted by type, never duplicated by an
idempotent replay, and never able to fail or undo the money movement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from realtime.bus import live_channel
from tests.helpers import services, settled
from tests.integration.groups_support import create_group, family_with, fund, join, person
from tests.integration.wallet_support import admin as site_admin
from tests.integration.wallet_support import balance, key, mint

pytestmark = pytest.mark.integration
N = "/api/v1/notifications"
TYPE = "wallet.transfer_received"


async def send(client, sender, recipient, amount, memo=None, headers=None):
    body: dict[str, Any] = {"to": {"username": recipient["username"]}, "amount": amount}
    if memo is not None:
        body["memo"] = memo
    return await client.post(
        "/api/v1/wallet/transfers", json=body, headers={**sender["headers"], **(headers or key())}
    )


async def received(client, user) -> list[dict[str, Any]]:
    await settled(client)  # the notification is written after the transfer answered
    page = (await client.get(N, headers=user["headers"])).json()
    return [n for n in page["items"] if n["type"] == TYPE]


async def funded_pair(client) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alice holds 100 minted tokens; Bob holds nothing and has no notification yet."""
    alice, bob = await person(client, "alice"), await person(client, "bob")
    await mint(client, await site_admin(client), alice["username"], 100)
    await settled(client)  # Alice's mint notification is written before the test starts
    return alice, bob


class Live:
    """Collects what Redis pub/sub delivers live on `rt:live:user:{id}`."""

    def __init__(self, redis: Redis, user_id: str, client: Any) -> None:
        self.client = client
        self.pubsub = redis.pubsub()
        self.channel = live_channel(f"user:{user_id}")

    async def __aenter__(self) -> Live:
        await self.pubsub.subscribe(self.channel)
        await self.pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()

    async def drain(self) -> list[dict[str, Any]]:
        await settled(self.client)  # pushed after the transfer answered
        events = []
        while (msg := await self.pubsub.get_message(True, timeout=0.5)) is not None:
            events.append(json.loads(msg["data"]))
        return events


async def test_transfer_notifies_the_recipient_once_live_and_listed(client, redis):
    alice, bob = await funded_pair(client)
    async with Live(redis, bob["id"], client) as live:
        sent = await send(client, alice, bob, 25, memo="lunch")
        assert sent.status_code == 201, sent.text
        events = await live.drain()
    transfer_id = sent.json()["transfer"]["id"]
    await settled(client)
    page = (await client.get(N, headers=bob["headers"])).json()
    assert page["unreadCount"] == 1
    [note] = page["items"]
    assert note["type"] == TYPE and not note["read"]
    assert note["title"] == f"{alice['username']} sent you 25 tokens: lunch"
    assert note["data"]["transferId"] == transfer_id
    assert note["data"]["amount"] == 25 and note["data"]["memo"] == "lunch"
    assert note["data"]["kind"] == "transfer" and note["data"]["balance"] == 25
    assert note["data"]["sender"] == {
        "type": "user",
        "id": alice["id"],
        "name": alice["username"],
    }
    created = [e for e in events if e["type"] == "notification.created"]
    assert [e["data"]["notification"]["id"] for e in created] == [note["id"]]
    assert created[0]["data"]["unreadCount"] == 1
    assert any(e["type"] == "wallet.transfer_completed" for e in events)
    # The sender gets nothing for her own transfer (only the mint she received earlier).
    assert [n["data"]["kind"] for n in await received(client, alice)] == ["mint"]


async def test_muted_type_stores_and_pushes_nothing(client, redis):
    alice, bob = await funded_pair(client)
    muted = await client.put(
        f"{N}/preferences", json={"mutedTypes": [TYPE]}, headers=bob["headers"]
    )
    assert muted.status_code == 200, muted.text
    async with Live(redis, bob["id"], client) as live:
        assert (await send(client, alice, bob, 10)).status_code == 201
        events = await live.drain()
    await settled(client)
    assert (await client.get(N, headers=bob["headers"])).json() == {
        "items": [],
        "nextCursor": None,
        "unreadCount": 0,
    }
    assert not [e for e in events if e["type"] == "notification.created"]
    assert await balance(client, bob) == 10


async def test_replayed_idempotent_request_creates_no_second_notification(client):
    alice, bob = await funded_pair(client)
    headers = key()
    first = await send(client, alice, bob, 30, headers=headers)
    again = await send(client, alice, bob, 30, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == again.json()
    notes = await received(client, bob)
    assert [n["data"]["transferId"] for n in notes] == [first.json()["transfer"]["id"]]
    assert await balance(client, bob) == 30


async def test_failing_hook_neither_fails_nor_rolls_back_the_transfer(client):
    alice, bob = await funded_pair(client)
    wallet = services(client).ledger
    calls: list[str] = []

    async def broken(moved: Any) -> None:
        calls.append(str(moved.transfer.id))
        raise RuntimeError("hook exploded")

    wallet.hooks.moved.insert(0, broken)  # before the notification hook
    failures = wallet.hooks.failures
    sent = await send(client, alice, bob, 40)
    assert sent.status_code == 201, sent.text
    transfer_id = sent.json()["transfer"]["id"]
    await settled(client)
    assert calls == [transfer_id]
    assert wallet.hooks.failures == failures + 1
    assert await balance(client, alice) == 60 and await balance(client, bob) == 40
    shown = await client.get(f"/api/v1/wallet/transfers/{transfer_id}", headers=bob["headers"])
    assert shown.status_code == 200 and shown.json()["amount"] == 40
    # The hooks after the broken one still ran.
    assert [n["data"]["transferId"] for n in await received(client, bob)] == [transfer_id]


async def test_failing_notification_store_does_not_fail_the_transfer(client, monkeypatch):
    alice, bob = await funded_pair(client)
    svc = services(client)

    async def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("notification store unavailable")

    monkeypatch.setattr(svc.notifications, "notify", down)
    failures = svc.ledger.hooks.failures
    sent = await send(client, alice, bob, 15)
    assert sent.status_code == 201, sent.text
    await settled(client)
    assert svc.ledger.hooks.failures == failures + 1
    assert await balance(client, bob) == 15


async def test_mint_and_group_payout_notify_the_user_with_their_sender(client):
    bob = await person(client, "bob")
    adm = await site_admin(client)
    await mint(client, adm, bob["username"], 7)
    [minted] = await received(client, bob)
    assert minted["data"]["kind"] == "mint" and minted["data"]["memo"] == "test funds"
    assert minted["data"]["sender"] == {"type": "system", "id": None, "name": None}
    assert minted["title"] == "You received 7 tokens: test funds"

    admin, kid = await person(client, "adm"), await person(client, "kid")
    family = await create_group(client, admin, name="Paying Smiths")
    fid = family["id"]
    await join(client, "family", fid, admin, kid)
    await fund(client, "family", fid, 500, admin)
    asked = await client.post(
        f"/api/v1/families/{fid}/token-requests",
        json={"amount": 150, "reason": "new game"},
        headers=kid["headers"],
    )
    assert asked.status_code == 201, asked.text
    ok = await client.post(
        f"/api/v1/families/{fid}/token-requests/{asked.json()['id']}/approve",
        json={"comment": "ok"},
        headers=admin["headers"],
    )
    assert ok.status_code == 200, ok.text
    [paid] = await received(client, kid)
    assert paid["data"]["transferId"] == ok.json()["transferId"]
    assert paid["data"]["kind"] == "request_payout" and paid["data"]["amount"] == 150
    assert paid["data"]["sender"] == {"type": "family", "id": fid, "name": "Paying Smiths"}
    assert paid["title"] == "Paying Smiths paid you 150 tokens: new game"
    # The approving admin moved the family's tokens, not his own: he gets no transfer note.
    assert await received(client, admin) == []


async def test_own_credit_is_not_notified(client):
    """An auto-approved request of one's own: the requester caused the credit himself."""
    admin, [kid], fid = await family_with(client, 1)
    await fund(client, "family", fid, 500, admin)
    small = await client.post(
        f"/api/v1/families/{fid}/token-requests",
        json={"amount": 20, "reason": "ice cream"},
        headers=kid["headers"],
    )
    assert small.json()["status"] == "approved"
    assert await balance(client, kid) == 20
    assert await received(client, kid) == []


async def test_admin_freezing_a_users_wallet_notifies_the_user(client):
    bob = await person(client, "bob")
    adm = await site_admin(client)
    account_id = (await client.get("/api/v1/wallet", headers=bob["headers"])).json()["accountId"]
    base = f"/api/v1/admin/wallet/accounts/{account_id}"
    frozen = await client.post(
        f"{base}/freeze", json={"reason": "fraud check"}, headers=adm["headers"]
    )
    assert frozen.status_code == 200, frozen.text
    assert (await client.post(f"{base}/unfreeze", headers=adm["headers"])).status_code == 200
    await settled(client)
    page = (await client.get(N, headers=bob["headers"])).json()
    assert [(n["type"], n["title"]) for n in page["items"]] == [
        ("wallet.unfrozen", "Your wallet was unfrozen."),
        ("wallet.frozen", "Your wallet was frozen: fraud check"),
    ]
    assert {n["data"]["accountId"] for n in page["items"]} == {account_id}


async def test_deletion_payout_notifies_the_other_admins_not_the_deleter(client):
    admin, [other], fid = await family_with(client, 1)
    promoted = await client.put(
        f"/api/v1/families/{fid}/members/{other['id']}/role",
        json={"role": "admin"},
        headers=admin["headers"],
    )
    assert promoted.status_code == 200, promoted.text
    await fund(client, "family", fid, 101, admin)
    gone = await client.delete(f"/api/v1/families/{fid}", headers=admin["headers"])
    assert gone.status_code == 204, gone.text
    [share] = await received(client, other)
    assert share["data"]["kind"] == "payout" and share["data"]["amount"] == 50
    assert share["data"]["sender"]["type"] == "family" and share["data"]["sender"]["id"] == fid
    assert share["data"]["balance"] == await balance(client, other) == 50
    assert await received(client, admin) == []
    assert await balance(client, admin) == 51
