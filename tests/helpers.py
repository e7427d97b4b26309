"""The user helpers and error assertions shared by every test (integration and e2e).

`register` / `login` / `verify_email` / `verified_user` / `admin_user` work on any
`httpx.AsyncClient`: the in-process `client` fixture or one with `base_url` set to a real api
process. `verify_email` and `admin_user` write through the database the test process has
initialised (the in-process app); e2e tests against another process use the HTTP flows.
"""

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
    return with_headers(response.json())


def with_headers(body: dict[str, Any]) -> dict[str, Any]:
    """A register/login answer plus `headers` for authenticated calls."""
    body["headers"] = {"Authorization": f"Bearer {body['accessToken']}"}
    return body


async def login(
    client: httpx.AsyncClient, login_name: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Log in by username or e-mail; the response body plus `headers`."""
    response = await client.post(
        "/api/v1/auth/login", json={"login": login_name, "password": password}
    )
    assert response.status_code == 200, response.text
    return with_headers(response.json())


async def verify_email(username: str) -> None:
    """Mark the user's e-mail verified (the e-mail flow has its own tests)."""
    from auth.documents import User

    await User.get_pymongo_collection().update_one(
        {"username": username}, {"$set": {"email_verified": True}}
    )


async def verified_user(client: httpx.AsyncClient, username: str | None = None) -> dict[str, Any]:
    """Register a user and mark the e-mail verified."""
    body = await register(client, username)
    await verify_email(body["user"]["username"])
    return body


async def admin_user(client: httpx.AsyncClient) -> dict[str, Any]:
    """An administrator (created server-side, as the CLI does), logged in over HTTP."""
    name = unique_name("adm")
    await services(client).auth.create_admin(name, f"{name}@example.com", PASSWORD)
    return await login(client, name)


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
    for item in error["details"]:  # one shape for every item (issue 16)
        assert list(item)[:3] == ["field", "code", "message"], item
        assert item["field"] is None or isinstance(item["field"], str), item
        assert isinstance(item["code"], str) and item["code"].isupper(), item
        assert isinstance(item["message"], str) and item["message"], item
    return error  # type: ignore[no-any-return]


def detail_context(error: dict[str, Any]) -> list[dict[str, Any]]:
    """The context members of each `details` item (those after `field`, `code`, `message`)."""
    return [
        {k: v for k, v in item.items() if k not in ("field", "code", "message")}
        for item in error["details"]
    ]


async def settled(client: httpx.AsyncClient) -> None:
    """Wait for the post-commit work the last requests started (the ledger's hooks, e.g. the
    transfer-received notification): requests answer without waiting for it."""
    await services(client).ledger.hooks.drain()
