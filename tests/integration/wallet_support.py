"""Helpers for the wallet and shop tests (not a test module)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from auth.documents import User
from tests.helpers import PASSWORD, register, services, unique_name


def key() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"Idempotency-Key": uuid.uuid4().hex}


async def verified_user(client: httpx.AsyncClient, username: str | None = None) -> dict[str, Any]:
    """Register a user and mark the e-mail verified (the verification flow is issue 6's)."""
    body = await register(client, username)
    await User.get_pymongo_collection().update_one(
        {"username": body["user"]["username"]}, {"$set": {"email_verified": True}}
    )
    return body


async def admin(client: httpx.AsyncClient) -> dict[str, Any]:
    """An administrator (created server-side, as the CLI does), logged in over HTTP."""
    name = unique_name("adm")
    await services(client).auth.create_admin(name, f"{name}@example.com", PASSWORD)
    response = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['accessToken']}"}
    return body


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
