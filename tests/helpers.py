"""Small helpers shared by the integration tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PASSWORD = "correct horse battery staple 42"


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def register(
    client: httpx.AsyncClient, username: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    """Register a user; returns the response body plus `headers` for authenticated calls."""
    username = username or unique_name()
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['accessToken']}"}
    return body


def services(client: httpx.AsyncClient) -> Any:
    """The app's `Services` (managers, bus, redis) for direct manager calls in tests."""
    return client.app.state["services"]


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The standard error body, with the expected status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "details", "requestId"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error  # type: ignore[no-any-return]


async def settled(client: httpx.AsyncClient) -> None:
    """Wait for the post-commit work the last requests started (the ledger's hooks, e.g. the
    transfer-received notification): requests answer without waiting for it."""
    await services(client).ledger.hooks.drain()
