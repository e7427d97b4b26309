"""Session and password policy added for ASVS L2: idle timeout, admin session termination,
step-up before ending a session, breached/common and context-specific passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bson import ObjectId

from auth.documents import AuthSession
from server.core.clock import utcnow
from tests.helpers import PASSWORD, assert_error, register, unique_name

pytestmark = pytest.mark.integration


async def test_idle_session_cannot_be_refreshed(client):
    user = await register(client)
    session_id = user["refreshToken"].split(".")[0]
    await AuthSession.get_pymongo_collection().update_one(
        {"_id": ObjectId(session_id)},
        {"$set": {"last_used_at": utcnow() - timedelta(days=8)}},
    )
    response = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": user["refreshToken"]}
    )
    assert_error(response, 401, "SESSION_EXPIRED")
    assert (await AuthSession.find_one()).revoked_reason == "idle_timeout"
    assert_error(await client.get("/api/v1/auth/me", headers=user["headers"]), 401)


async def test_admin_ends_every_session_of_a_user(client):
    auth = client.app.state["services"].auth
    name = unique_name("boss")
    await auth.create_admin(name, f"{name}@example.com", PASSWORD)
    admin = (
        await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    ).json()
    admin_headers = {"Authorization": f"Bearer {admin['accessToken']}"}
    user = await register(client)
    await client.post(
        "/api/v1/auth/login", json={"login": user["user"]["username"], "password": PASSWORD}
    )
    path = f"/api/v1/auth/admin/users/{user['user']['id']}/sessions"
    denied = await client.delete(path, headers=user["headers"])
    assert_error(denied, 403, "ADMIN_REQUIRED")
    ended = await client.delete(path, headers=admin_headers)
    assert ended.status_code == 200 and ended.json() == {"revoked": 2}
    assert_error(await client.get("/api/v1/auth/me", headers=user["headers"]), 401)
    missing = await client.delete(
        "/api/v1/auth/admin/users/000000000000000000000000/sessions", headers=admin_headers
    )
    assert_error(missing, 404, "USER_NOT_FOUND")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("qwerty123456", "is too common"),  # from the 30,000-password list
        ("1qaz2wsx3edc", "is too common"),
        ("My Second-Brain pass", "must not contain the service name"),
        ("secondbrain rocks 2024", "must not contain the service name"),
    ],
)
async def test_common_and_context_specific_passwords_refused(client, password, message):
    name = unique_name()
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@e.com", "password": password},
    )
    error = assert_error(response, 422)
    assert ("password", message) in [(d["field"], d["message"]) for d in error["details"]]


async def test_long_passphrases_and_any_characters_are_fine(client):
    name = unique_name()
    password = "Ünïcödé ✓ passphrase with spaces and 😀 emoji " * 2  # > 64 characters
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@e.com", "password": password},
    )
    assert response.status_code == 201, response.text
    login = await client.post("/api/v1/auth/login", json={"login": name, "password": password})
    assert login.status_code == 200
    # Verified exactly as given: no trimming, no case folding.
    for variant in (password.strip(), password.upper(), password[:64]):
        wrong = await client.post("/api/v1/auth/login", json={"login": name, "password": variant})
        assert_error(wrong, 401)


async def test_session_lifetime_is_absolute(client):
    user = await register(client)
    session_id = ObjectId(user["refreshToken"].split(".")[0])
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": user["refreshToken"]}
    )
    assert refreshed.status_code == 200
    session = await AuthSession.get(session_id)
    assert (session.expires_at - session.created_at).total_seconds() == 30 * 24 * 3600
    await AuthSession.get_pymongo_collection().update_one(
        {"_id": session_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    late = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]}
    )
    assert_error(late, 401, "SESSION_REVOKED")
