"""Events go out only for writes that committed, and exactly the events of the write.

`run_in_transaction` hands the work a `Tx`; what it queues (`tx.publish`,
`tx.after_commit`) runs after the commit of the attempt that succeeded, never after an
abort or a failed retry attempt. Then, per event-producing manager (wallet, shop, groups,
notifications, auth): an aborted transaction publishes nothing, a committed one publishes
exactly its events.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from bson import ObjectId
from pymongo.errors import OperationFailure

from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.db import Tx, run_in_transaction
from server.core.errors import Conflict
from server.groups.documents import GroupRequest
from server.notifications.documents import Notification
from server.shop.schemas import PurchaseRequest
from server.wallet.documents import Transfer
from server.wallet.movement import Movement
from tests.helpers import services, settled
from tests.integration.events_support import Heard
from tests.integration.groups_support import family_with, fund, person
from tests.integration.shop_support import create_item, inventory
from tests.integration.wallet_support import admin, balance, key, mint, verified_user

pytestmark = pytest.mark.integration


def _collection(client: Any) -> Any:
    db = client.app.state["settings"].mongodb_db
    return services(client).mongo[db]["tx_probe"]


def _probe_bus(svc: Any) -> EventBus:
    """A bus without the event catalog: the Tx tests publish made-up `probe.*` types (the
    app's bus refuses types the catalog does not document)."""
    return EventBus(svc.redis)


async def _probe_events(client: Any, channel: str, since: int) -> list[str]:
    raws = await services(client).bus.read_since(channel, since)
    return [json.loads(r)["type"] for r in raws]


# ----------------------------------------------------------------------------- Tx itself


async def test_tx_runs_queued_steps_in_order_only_after_the_commit(client):
    svc, probe = services(client), _collection(client)
    channel = f"user:{ObjectId()}"
    _, since = await svc.bus.position(channel)
    seen_inside: list[str] = []
    seen_after: list[list[str]] = []

    async def after() -> None:
        seen_after.append(await _probe_events(client, channel, since))

    async def work(tx: Tx) -> str:
        await probe.insert_one({"n": 1}, session=tx.session)
        tx.publish(channel, "probe.one", {"n": 1})
        tx.after_commit(after)
        tx.publish(channel, "probe.two", {"n": 2})
        seen_inside.extend(await _probe_events(client, channel, since))
        return "done"

    assert await run_in_transaction(svc.mongo, work, publisher=_probe_bus(svc)) == "done"
    assert seen_inside == []  # nothing left before the commit
    assert seen_after == [["probe.one"]]  # steps ran in the order queued
    assert await _probe_events(client, channel, since) == ["probe.one", "probe.two"]
    assert await probe.count_documents({}) == 1


async def test_tx_abort_publishes_nothing_and_runs_no_step(client):
    svc, probe = services(client), _collection(client)
    channel = f"user:{ObjectId()}"
    _, since = await svc.bus.position(channel)
    ran: list[str] = []

    async def after() -> None:
        ran.append("after")

    async def work(tx: Tx) -> None:
        await probe.insert_one({"n": 1}, session=tx.session)
        tx.publish(channel, "probe.one", {"n": 1})
        tx.after_commit(after)
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        await run_in_transaction(svc.mongo, work, publisher=_probe_bus(svc))
    assert ran == [] and await _probe_events(client, channel, since) == []
    assert await probe.count_documents({}) == 0


async def test_tx_failed_retry_attempt_publishes_nothing_of_its_own(client):
    svc, probe = services(client), _collection(client)
    channel = f"user:{ObjectId()}"
    _, since = await svc.bus.position(channel)
    attempts: list[int] = []

    async def work(tx: Tx) -> None:
        attempts.append(len(attempts) + 1)
        await probe.insert_one({"attempt": len(attempts)}, session=tx.session)
        tx.publish(channel, f"probe.attempt{len(attempts)}", {})
        if len(attempts) == 1:  # what a write conflict looks like to the driver
            raise OperationFailure("Write conflict", code=112)

    await run_in_transaction(svc.mongo, work, publisher=_probe_bus(svc))
    assert attempts == [1, 2]
    assert await _probe_events(client, channel, since) == ["probe.attempt2"]
    assert [d["attempt"] async for d in probe.find({})] == [2]


async def test_tx_failing_step_neither_fails_the_commit_nor_stops_later_steps(client):
    svc = services(client)
    channel = f"user:{ObjectId()}"
    _, since = await svc.bus.position(channel)

    async def broken() -> None:
        raise RuntimeError("side effect failed")

    async def work(tx: Tx) -> int:
        tx.after_commit(broken)
        tx.publish(channel, "probe.after_broken", {})
        return 7

    assert await run_in_transaction(svc.mongo, work, publisher=_probe_bus(svc)) == 7
    assert await _probe_events(client, channel, since) == ["probe.after_broken"]


# ----------------------------------------------------------------------------- wallet


async def test_wallet_aborted_move_publishes_nothing_committed_one_exactly_its_events(client):
    boss = await admin(client)
    alice, bob = await verified_user(client), await verified_user(client)
    await mint(client, boss, alice["user"]["username"], 50)
    await settled(client)
    ledger = services(client).ledger
    a, b = (f"user:{u['user']['id']}" for u in (alice, bob))
    source = await ledger.account_for("user", ObjectId(alice["user"]["id"]))
    target = await ledger.account_for("user", ObjectId(bob["user"]["id"]))
    assert source is not None and target is not None
    movement = Movement(
        from_account=source.id,  # type: ignore[arg-type]
        to_account=target.id,  # type: ignore[arg-type]
        amount=20,
        kind="transfer",
        idempotency_key=f"test:{ObjectId()}",
        actor_id=ObjectId(alice["user"]["id"]),
    )

    async def moved_then_failed(tx: Tx) -> None:
        await ledger.move(tx, movement)  # queues wallet.transfer_completed for both
        raise Conflict("a later step of the same transaction failed")

    async with Heard(client, [a, b]) as heard:
        with pytest.raises(Conflict):
            await ledger.run(moved_then_failed)
        too_much = await client.post(
            "/api/v1/wallet/transfers",
            json={"to": {"username": bob["user"]["username"]}, "amount": 51},
            headers={**alice["headers"], **key()},
        )
        assert too_much.status_code == 409, too_much.text
    assert heard.types(a) == [] and heard.types(b) == []
    assert await balance(client, alice) == 50 and await balance(client, bob) == 0
    assert await Transfer.get_pymongo_collection().count_documents({"kind": "transfer"}) == 0

    async with Heard(client, [a, b]) as heard:
        sent = await client.post(
            "/api/v1/wallet/transfers",
            json={"to": {"username": bob["user"]["username"]}, "amount": 20},
            headers={**alice["headers"], **key()},
        )
        assert sent.status_code == 201, sent.text
    assert heard.types(a) == ["wallet.transfer_completed"]
    assert heard.types(b) == ["wallet.transfer_completed", "notification.created"]
    assert heard.events[b][0]["data"]["balance"] == 20


# ----------------------------------------------------------------------------- shop


async def test_shop_aborted_purchase_publishes_nothing_committed_one_exactly_its_events(
    client, monkeypatch
):
    boss = await admin(client)
    buyer = await verified_user(client)
    await mint(client, boss, buyer["user"]["username"], 100)
    await settled(client)
    item = await create_item(client, boss, price=30)
    shop = services(client).shop
    actor = Actor(user_id=ObjectId(buyer["user"]["id"]), username=buyer["user"]["username"])
    channel = f"user:{buyer['user']['id']}"
    real_grant = shop.holdings.grant

    async def grant_then_fail(*args: Any, **kwargs: Any) -> Any:
        await real_grant(*args, **kwargs)  # after the ledger queued its debit event
        raise Conflict("the grant could not be recorded")

    monkeypatch.setattr(shop.holdings, "grant", grant_then_fail)
    async with Heard(client, [channel]) as heard:
        with pytest.raises(Conflict):
            await shop.purchase(
                actor, PurchaseRequest(item_id=item["id"]), idempotency_key="abort-1"
            )
    assert heard.types(channel) == []
    assert await balance(client, buyer) == 100 and await inventory(client, buyer) == []

    monkeypatch.setattr(shop.holdings, "grant", real_grant)
    async with Heard(client, [channel]) as heard:
        bought = await client.post(
            "/api/v1/shop/purchases",
            json={"itemId": item["id"]},
            headers={**buyer["headers"], **key()},
        )
        assert bought.status_code == 201, bought.text
    assert heard.types(channel) == ["wallet.transfer_completed", "shop.purchase_completed"]


# ----------------------------------------------------------------------------- groups


async def test_group_aborted_payout_publishes_nothing_committed_one_exactly_its_events(client):
    admin_user, [kid], fid = await family_with(client, 1)
    await settled(client)
    base = f"/api/v1/families/{fid}/token-requests"
    asked = await client.post(
        base, json={"amount": 500, "reason": "a new bicycle"}, headers=kid["headers"]
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    rid = asked.json()["id"]
    family, mine = f"family:{fid}", f"user:{kid['id']}"

    # The decision is written first, then the payout fails for want of funds: all undone.
    async with Heard(client, [family, mine]) as heard:
        broke = await client.post(
            f"{base}/{rid}/approve", json={"comment": "ok"}, headers=admin_user["headers"]
        )
        assert broke.status_code == 409, broke.text
        assert broke.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert heard.types(family) == [] and heard.types(mine) == []
    stored = await GroupRequest.get_pymongo_collection().find_one({"_id": ObjectId(rid)})
    assert stored is not None and stored["status"] == "pending"

    await fund(client, "family", fid, 600, admin_user)
    await settled(client)
    async with Heard(client, [family, mine]) as heard:
        paid = await client.post(
            f"{base}/{rid}/approve", json={"comment": "ok"}, headers=admin_user["headers"]
        )
        assert paid.status_code == 200, paid.text
    assert heard.types(family) == ["wallet.transfer_completed", "token_request.approved"]
    assert sorted(heard.types(mine)) == [
        "notification.created",  # the request was approved
        "notification.created",  # tokens received (after the commit, in the background)
        "token_request.approved",
        "wallet.transfer_completed",
    ]


# ----------------------------------------------------------------------------- notifications


async def test_notifications_aborted_batch_publishes_nothing_concurrent_ones_exactly(client):
    user = await person(client, "note")
    notifications = services(client).notifications
    channel = f"user:{user['id']}"

    async with Heard(client, [channel]) as heard:
        with pytest.raises(Exception):  # noqa: B017 (the store refuses what BSON can't hold)
            await notifications.notify([user["id"]], "test.broken", "Broken", {"bad": {1, 2}})
    assert heard.types(channel) == []
    assert await Notification.get_pymongo_collection().count_documents({"type": "test.broken"}) == 0

    async with Heard(client, [channel]) as heard:
        stored = await asyncio.gather(
            *(
                notifications.notify([user["id"]], "test.ok", f"Note {i}", {"i": i})
                for i in range(5)
            )
        )
    assert [len(docs) for docs in stored] == [1, 1, 1, 1, 1]
    assert heard.types(channel) == ["notification.created"] * 5
    counts = [e["data"]["unreadCount"] for e in heard.events[channel]]
    assert counts == [1, 2, 3, 4, 5]
    ids = [e["data"]["notification"]["id"] for e in heard.events[channel]]
    assert ids == [str(docs[0].id) for docs in stored]


# ----------------------------------------------------------------------------- auth


async def test_auth_session_revocation_publishes_exactly_its_event_after_commit(client):
    user = await person(client, "sess")
    channel = f"user:{user['id']}"
    async with Heard(client, [channel]) as heard:
        out = await client.post("/api/v1/auth/logout", headers=user["headers"])
        assert out.status_code == 204, out.text
    assert heard.types(channel) == ["session.revoked"]
    assert heard.events[channel][0]["data"]["reason"] == "logout"


async def test_auth_aborted_registration_leaves_no_user_and_no_wallet(client):
    auth = services(client).auth

    async def refuse(user: Any, session: Any) -> None:
        raise Conflict("a later registration step failed", code="REGISTRATION_REFUSED")

    auth.add_user_created_hook(refuse)  # after the wallet's hook opened the account
    try:
        refused = await client.post(
            "/api/v1/auth/register",
            json={"username": "aborted1", "email": "aborted1@example.com", "password": "x" * 16},
        )
    finally:
        auth._user_created_hooks.remove(refuse)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "REGISTRATION_REFUSED"
    ledger = services(client).ledger
    from auth.documents import User

    assert await User.get_pymongo_collection().find_one({"username": "aborted1"}) is None
    assert await ledger._accounts.count_documents({"username": "aborted1"}) == 0
