"""Concurrency on the ledger through HTTP: overspending and duplicate requests."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from server.wallet.audit import run_audit
from server.wallet.documents import Transfer
from tests.integration.wallet_support import admin, balance, key, mint, verified_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_200_concurrent_transfers_only_the_affordable_142_succeed(client):
    boss = await admin(client)
    payer = await verified_user(client)
    payees = [await verified_user(client) for _ in range(4)]
    await mint(client, boss, payer["user"]["username"], 142)

    async def send(i: int):
        to = payees[i % len(payees)]["user"]["username"]
        return await client.post(
            "/api/v1/wallet/transfers",
            json={"to": {"username": to}, "amount": 1, "memo": f"#{i}"},
            headers={**payer["headers"], **key()},
        )

    responses = await asyncio.gather(*(send(i) for i in range(200)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 142, 409: 58}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "INSUFFICIENT_FUNDS"
    }
    assert await balance(client, payer) == 0
    assert sum([await balance(client, p) for p in payees]) == 142
    debits = await Transfer.find(Transfer.kind == "transfer").to_list()
    assert len(debits) == 142
    assert min(t.from_balance_after for t in debits) == 0
    assert sorted(t.from_balance_after for t in debits) == list(range(142))
    report = await run_audit()
    assert report.ok, report
    assert report.total_balance == report.minted == 142


async def test_20_identical_requests_with_one_key_make_one_transfer(client):
    boss = await admin(client)
    payer = await verified_user(client)
    payee = await verified_user(client)
    await mint(client, boss, payer["user"]["username"], 50)
    headers = {**payer["headers"], **key()}
    body = {"to": {"username": payee["user"]["username"]}, "amount": 7}

    responses = await asyncio.gather(
        *(client.post("/api/v1/wallet/transfers", json=body, headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["transfer"]["id"] for r in responses}) == 1
    assert {r.json()["balance"] for r in responses} == {43}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert await balance(client, payer) == 43
    assert await balance(client, payee) == 7
    assert await Transfer.find(Transfer.kind == "transfer").count() == 1
    assert (await run_audit()).ok
