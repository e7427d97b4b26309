"""Every wallet error code through HTTP, with the standard error body."""

from __future__ import annotations

import json

import pytest

from server.wallet.rewards import sign
from tests.helpers import assert_error, detail_context, register
from tests.integration.wallet_support import admin, balance, key, mint, verified_user

pytestmark = pytest.mark.integration


async def _funded(client, amount=100):
    boss = await admin(client)
    alice = await verified_user(client)
    bob = await verified_user(client)
    if amount:
        await mint(client, boss, alice["user"]["username"], amount)
    return boss, alice, bob


def _send(client, sender, to, amount, *, headers=None, memo=None):
    body = {"to": to, "amount": amount}
    if memo is not None:
        body["memo"] = memo
    return client.post(
        "/api/v1/wallet/transfers",
        json=body,
        headers={**sender["headers"], **(key() if headers is None else headers)},
    )


async def test_insufficient_funds(client):
    _, alice, bob = await _funded(client, 10)
    response = await _send(client, alice, {"username": bob["user"]["username"]}, 11)
    error = assert_error(response, 409, "INSUFFICIENT_FUNDS")
    assert detail_context(error) == [{"balance": 10, "amount": 11}]
    assert await balance(client, alice) == 10
    assert await balance(client, bob) == 0


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "INVALID_AMOUNT"),
        (-5, "INVALID_AMOUNT"),
        (10**12 + 1, "INVALID_AMOUNT"),
        (1.5, "INVALID_AMOUNT"),
        (2.0, "INVALID_AMOUNT"),
        ("5", "INVALID_AMOUNT"),
        (True, "VALIDATION_ERROR"),
        (None, "VALIDATION_ERROR"),
    ],
)
async def test_invalid_amount(client, amount, code):
    _, alice, bob = await _funded(client, 10)
    response = await _send(client, alice, {"username": bob["user"]["username"]}, amount)
    assert_error(response, 422, code)
    assert await balance(client, alice) == 10


async def test_self_transfer_by_username_and_by_account(client):
    _, alice, _ = await _funded(client, 10)
    own = (await client.get("/api/v1/wallet", headers=alice["headers"])).json()["accountId"]
    by_name = await _send(client, alice, {"username": alice["user"]["username"]}, 1)
    assert_error(by_name, 422, "SELF_TRANSFER")
    by_account = await _send(client, alice, {"accountId": own}, 1)
    assert_error(by_account, 422, "SELF_TRANSFER")


async def test_recipient_not_found(client):
    _, alice, _ = await _funded(client, 10)
    missing_user = await _send(client, alice, {"username": "nobody-here"}, 1)
    assert_error(missing_user, 404, "RECIPIENT_NOT_FOUND")
    missing_account = await _send(client, alice, {"accountId": "0" * 23 + "1"}, 1)
    assert_error(missing_account, 404, "RECIPIENT_NOT_FOUND")
    both = await _send(client, alice, {"username": "x", "accountId": "0" * 24}, 1)
    assert_error(both, 400, "VALIDATION_ERROR")


async def test_wallet_frozen_refuses_spending_but_still_receives(client):
    boss, alice, bob = await _funded(client, 10)
    account = (await client.get("/api/v1/wallet", headers=alice["headers"])).json()["accountId"]
    frozen = await client.post(
        f"/api/v1/admin/wallet/accounts/{account}/freeze",
        json={"reason": "chargeback review"},
        headers=boss["headers"],
    )
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["frozen"] is True
    response = await _send(client, alice, {"username": bob["user"]["username"]}, 1)
    error = assert_error(response, 409, "WALLET_FROZEN")
    assert detail_context(error) == [{"reason": "chargeback review"}]
    await mint(client, boss, alice["user"]["username"], 5)
    assert await balance(client, alice) == 15
    thawed = await client.post(
        f"/api/v1/admin/wallet/accounts/{account}/unfreeze", headers=boss["headers"]
    )
    assert thawed.status_code == 200 and thawed.json()["frozen"] is False
    again = await _send(client, alice, {"username": bob["user"]["username"]}, 1)
    assert again.status_code == 201, again.text


async def test_idempotency_key_required_and_validated(client):
    _, alice, bob = await _funded(client, 10)
    to = {"username": bob["user"]["username"]}
    assert_error(await _send(client, alice, to, 1, headers={}), 400, "IDEMPOTENCY_KEY_REQUIRED")
    bad = {"Idempotency-Key": "has space"}
    assert_error(await _send(client, alice, to, 1, headers=bad), 400, "IDEMPOTENCY_KEY_INVALID")
    long = {"Idempotency-Key": "k" * 256}
    assert_error(await _send(client, alice, to, 1, headers=long), 400, "IDEMPOTENCY_KEY_INVALID")


async def test_same_key_same_body_replays_and_other_body_is_409(client):
    _, alice, bob = await _funded(client, 10)
    to = {"username": bob["user"]["username"]}
    k = key()
    first = await _send(client, alice, to, 3, headers=k)
    assert first.status_code == 201
    again = await _send(client, alice, to, 3, headers=k)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await _send(client, alice, to, 4, headers=k)
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")
    assert await balance(client, alice) == 7


async def test_a_failed_request_replays_its_error(client):
    """Stripe semantics: the key answers the original outcome, even after a top-up."""
    boss, alice, bob = await _funded(client, 1)
    to = {"username": bob["user"]["username"]}
    k = key()
    assert_error(await _send(client, alice, to, 5, headers=k), 409, "INSUFFICIENT_FUNDS")
    await mint(client, boss, alice["user"]["username"], 10)
    assert_error(await _send(client, alice, to, 5, headers=k), 409, "INSUFFICIENT_FUNDS")
    assert await balance(client, alice) == 11


async def test_keys_are_per_user(client):
    boss, alice, bob = await _funded(client, 10)
    await mint(client, boss, bob["user"]["username"], 10)
    k = key()
    a = await _send(client, alice, {"username": bob["user"]["username"]}, 2, headers=k)
    b = await _send(client, bob, {"username": alice["user"]["username"]}, 2, headers=k)
    assert a.status_code == b.status_code == 201
    assert a.json()["transfer"]["id"] != b.json()["transfer"]["id"]


async def test_email_not_verified(client):
    _, _, bob = await _funded(client, 0)
    fresh = await register(client)
    response = await _send(client, fresh, {"username": bob["user"]["username"]}, 1)
    assert_error(response, 403, "EMAIL_NOT_VERIFIED")


async def test_unauthenticated_and_non_admin(client):
    _, alice, bob = await _funded(client, 10)
    assert_error(await client.get("/api/v1/wallet"), 401, "UNAUTHORIZED")
    mint_body = {"to": {"username": bob["user"]["username"]}, "amount": 5, "reason": "why not"}
    response = await client.post(
        "/api/v1/admin/wallet/mint", json=mint_body, headers={**alice["headers"], **key()}
    )
    assert_error(response, 403, "FORBIDDEN")
    audit = await client.get("/api/v1/admin/wallet/audit", headers=alice["headers"])
    assert_error(audit, 403, "FORBIDDEN")
    assert await balance(client, bob) == 0


async def test_transfer_of_someone_else_is_not_found(client):
    _, alice, bob = await _funded(client, 10)
    carol = await verified_user(client)
    sent = await _send(client, alice, {"username": bob["user"]["username"]}, 1)
    tid = sent.json()["transfer"]["id"]
    response = await client.get(f"/api/v1/wallet/transfers/{tid}", headers=carol["headers"])
    assert_error(response, 404, "TRANSFER_NOT_FOUND")
    assert_error(
        await client.get("/api/v1/wallet/transfers/nope", headers=carol["headers"]),
        404,
        "TRANSFER_NOT_FOUND",
    )
    assert_error(
        await client.get("/api/v1/wallet/transfers?cursor=zz", headers=carol["headers"]),
        400,
        "INVALID_CURSOR",
    )


async def test_reward_callback_signature_and_dedup(app_factory):
    async with app_factory(reward_webhook_secret="reward-secret") as client:
        bob = await register(client)
        payload = {"eventId": "ev-1", "username": bob["user"]["username"], "amount": 25}
        raw = json.dumps(payload).encode()
        unsigned = await client.post("/api/v1/wallet/rewards", content=raw)
        assert_error(unsigned, 401, "INVALID_SIGNATURE")
        forged = await client.post(
            "/api/v1/wallet/rewards",
            content=raw,
            headers={"X-Reward-Signature": sign("wrong", raw)},
        )
        assert_error(forged, 401, "INVALID_SIGNATURE")
        headers = {"X-Reward-Signature": sign("reward-secret", raw)}
        first = await client.post("/api/v1/wallet/rewards", content=raw, headers=headers)
        assert first.status_code == 201, first.text
        assert first.json()["duplicate"] is False
        again = await client.post("/api/v1/wallet/rewards", content=raw, headers=headers)
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert again.json()["transfer"]["id"] == first.json()["transfer"]["id"]
        assert await balance(client, bob) == 25
        changed = json.dumps({**payload, "amount": 99}).encode()
        reused = await client.post(
            "/api/v1/wallet/rewards",
            content=changed,
            headers={"X-Reward-Signature": sign("reward-secret", changed)},
        )
        assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")
        bad = json.dumps({"eventId": "ev-2", "username": "ghost-user", "amount": 1}).encode()
        missing = await client.post(
            "/api/v1/wallet/rewards",
            content=bad,
            headers={"X-Reward-Signature": sign("reward-secret", bad)},
        )
        assert_error(missing, 404, "RECIPIENT_NOT_FOUND")
        assert await balance(client, bob) == 25


async def test_rewards_disabled_without_secret(client):
    response = await client.post("/api/v1/wallet/rewards", content=b"{}")
    assert_error(response, 503, "REWARDS_DISABLED")
