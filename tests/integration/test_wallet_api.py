"""The wallet through HTTP: accounts at registration, transfers, history, mint, errors."""

from __future__ import annotations

import json

import msgspec
import pytest

from server.wallet.schemas import TransferCompletedEvent
from tests.helpers import register, services
from tests.integration.wallet_support import admin, audit, balance, key, mint, verified_user

pytestmark = pytest.mark.integration


async def test_registration_opens_an_empty_wallet(client):
    user = await register(client)
    response = await client.get("/api/v1/wallet", headers=user["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balance"] == 0 and body["frozen"] is False
    assert len(body["accountId"]) == 24


async def test_mint_then_transfer_moves_tokens(client):
    boss = await admin(client)
    alice = await verified_user(client)
    bob = await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 100)
    response = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": bob["user"]["username"]}, "amount": 30, "memo": "lunch"},
        headers={**alice["headers"], **key()},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["balance"] == 70
    assert body["transfer"]["amount"] == 30 and body["transfer"]["memo"] == "lunch"
    assert body["transfer"]["kind"] == "transfer"
    assert await balance(client, alice) == 70
    assert await balance(client, bob) == 30

    history = (await client.get("/api/v1/wallet/transfers", headers=bob["headers"])).json()
    assert [t["amount"] for t in history["items"]] == [30]
    assert history["items"][0]["balanceAfter"] == 30
    one = await client.get(
        f"/api/v1/wallet/transfers/{body['transfer']['id']}", headers=bob["headers"]
    )
    assert one.status_code == 200 and one.json()["id"] == body["transfer"]["id"]
    report = await audit(client)
    assert report.ok, report
    assert report.minted == 100 and report.total_balance == 100


async def test_transfer_publishes_each_party_its_new_balance(client):
    boss = await admin(client)
    alice = await verified_user(client)
    bob = await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 40)
    bus = services(client).bus
    channels = {name: f"user:{u['user']['id']}" for name, u in (("alice", alice), ("bob", bob))}
    before = {name: (await bus.position(ch))[1] for name, ch in channels.items()}
    sent = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": bob["user"]["username"]}, "amount": 15},
        headers={**alice["headers"], **key()},
    )
    assert sent.status_code == 201, sent.text
    tid = sent.json()["transfer"]["id"]
    seen = {}
    for name, ch in channels.items():
        events = [json.loads(raw) for raw in await bus.read_since(ch, before[name])]
        (event,) = [e for e in events if e["type"] == "wallet.transfer_completed"]
        assert event["channel"] == ch
        seen[name] = msgspec.convert(event["data"], TransferCompletedEvent)
    assert seen["alice"].balance == 25 and seen["bob"].balance == 15
    assert seen["alice"].transfer.id == seen["bob"].transfer.id == tid
    assert seen["bob"].transfer.balance_after == 15


async def test_admin_audit_endpoint(client):
    boss = await admin(client)
    alice = await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 12)
    response = await client.get("/api/v1/admin/wallet/audit", headers=boss["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["mismatches"] == []
    assert body["minted"] == 12 and body["burned"] == 0 and body["totalBalance"] == 12
    assert body["accounts"] >= 3
    account = (await client.get("/api/v1/wallet", headers=alice["headers"])).json()["accountId"]
    one = await client.get(f"/api/v1/admin/wallet/accounts/{account}", headers=boss["headers"])
    assert one.status_code == 200 and one.json()["balance"] == 12
    assert one.json()["owner"] == {"type": "user", "id": alice["user"]["id"]}


async def test_system_account_renders_as_system_not_24_zeros(client):
    """Bug (issue 16): the issuer account's owner id (and the actor of rewards and system
    jobs) was the placeholder ObjectId, so clients showed `000000000000000000000000`."""
    from bson import ObjectId

    from server.wallet.documents import ISSUER_OWNER_ID
    from server.wallet.views import actor_id

    boss = await admin(client)
    alice = await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 10)
    history = (await client.get("/api/v1/wallet/transfers", headers=alice["headers"])).json()
    minted = history["items"][0]
    assert minted["kind"] == "mint"
    assert minted["fromOwner"] == {"type": "system", "id": "system"}
    assert minted["toOwner"] == {"type": "user", "id": alice["user"]["id"]}
    assert "0" * 24 not in json.dumps(history)
    assert actor_id(ISSUER_OWNER_ID) == "system"
    assert actor_id(ObjectId(alice["user"]["id"])) == alice["user"]["id"]


async def test_history_is_newest_first_across_processes_and_pages(client):
    """Bug: history was sorted by ObjectId, but ids are made by whichever process writes
    the transfer (two api processes, the CLI's mint); ObjectIds of different processes made
    in the same second sort by their random process part, so a CLI mint could list above a
    later transfer (test_contract_clients saw [100, 7]). History now sorts by `created_at`,
    then id, and the cursor follows the same order."""
    from datetime import timedelta

    from bson import ObjectId

    from server.wallet.documents import Transfer

    boss = await admin(client)
    alice = await verified_user(client)
    bob = await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 100)
    for amount in (1, 2):
        sent = await client.post(
            "/api/v1/wallet/transfers",
            json={"to": {"username": bob["user"]["username"]}, "amount": amount},
            headers={**alice["headers"], **key()},
        )
        assert sent.status_code == 201, sent.text
    # A transfer written later by "another process": its id sorts below every other one.
    collection = Transfer.get_pymongo_collection()
    newest = await collection.find_one({"amount": 2, "accounts": {"$size": 2}}, sort=[("_id", -1)])
    assert newest is not None
    later = {
        **newest,
        "_id": ObjectId(newest["_id"].binary[:4] + b"\x00" * 8),
        "amount": 3,
        "idempotency_key": "other-process-" + key()["Idempotency-Key"],
        "created_at": newest["created_at"] + timedelta(milliseconds=5),
    }
    await collection.insert_one(later)

    first = (
        await client.get("/api/v1/wallet/transfers", params={"limit": 2}, headers=bob["headers"])
    ).json()
    assert [t["amount"] for t in first["items"]] == [3, 2]
    rest = (
        await client.get(
            "/api/v1/wallet/transfers",
            params={"limit": 2, "cursor": first["nextCursor"]},
            headers=bob["headers"],
        )
    ).json()
    assert [t["amount"] for t in rest["items"]] == [1] and rest["nextCursor"] is None
    unknown = await client.get(
        "/api/v1/wallet/transfers",
        params={"cursor": str(ObjectId())},
        headers=bob["headers"],
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "INVALID_CURSOR"
