"""The wallet through HTTP: accounts at registration, transfers, history, mint, errors."""

from __future__ import annotations

import pytest

from tests.helpers import register
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
