"""Helpers for the wallet and shop tests (not a test module)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import admin_user as admin
from tests.helpers import verified_user

__all__ = ["admin", "audit", "balance", "key", "mint", "verified_user"]


def key() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"Idempotency-Key": uuid.uuid4().hex}


async def mint(
    client: httpx.AsyncClient, admin_user: dict[str, Any], username: str, amount: int
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/admin/wallet/mint",
        json={"to": {"username": username}, "amount": amount, "reason": "test funds"},
        headers={**admin_user["headers"], **key()},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def balance(client: httpx.AsyncClient, user: dict[str, Any]) -> int:
    response = await client.get("/api/v1/wallet", headers=user["headers"])
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def audit(client: httpx.AsyncClient) -> Any:
    from server.wallet.audit import run_audit

    return await run_audit()
