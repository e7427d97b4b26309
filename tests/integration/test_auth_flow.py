"""Accounts and sessions through HTTP: register, login, refresh, logout, sessions, password."""

from __future__ import annotations

import pytest

from auth.documents import User
from tests.helpers import PASSWORD, assert_error, register, unique_name

pytestmark = pytest.mark.integration


async def test_register_returns_tokens_and_ignores_role(client):
    name = unique_name("Mixed")
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@Example.COM",
            "password": PASSWORD,
            "role": "admin",
            "roles": ["admin"],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["username"] == name.lower()
    assert body["user"]["email"] == f"{name.lower()}@example.com"
    assert body["user"]["roles"] == []
    assert body["expiresIn"] == 900
    stored = await User.find_one(User.username == name.lower())
    assert stored is not None and stored.roles == []
    assert stored.password_hash.startswith("$argon2id$")


async def test_duplicate_username_or_email_is_conflict(client):
    first = await register(client)
    name = first["user"]["username"]
    again = await client.post(
        "/api/v1/auth/register",
        json={"username": name.upper(), "email": "other@example.com", "password": PASSWORD},
    )
    assert_error(again, 409, "ACCOUNT_EXISTS")
    same_email = await client.post(
        "/api/v1/auth/register",
        json={"username": unique_name(), "email": first["user"]["email"], "password": PASSWORD},
    )
    assert_error(same_email, 409, "ACCOUNT_EXISTS")
    assert await User.count() == 1


@pytest.mark.parametrize("prefix", ["family_", "team_", "admin_", "system_", "bot_", "service_"])
async def test_reserved_username_prefixes_refused(client, prefix):
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": f"{prefix}x1", "email": "r@example.com", "password": PASSWORD},
    )
    assert_error(response, 422, "USERNAME_RESERVED")
    assert await User.count() == 0


@pytest.mark.parametrize(
    "password", ["short pass", "passwordpassword", "Qwerty123456", "contains-{name}-inside"]
)
async def test_weak_passwords_refused(client, password):
    name = unique_name()
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@e.com", "password": password.format(name=name)},
    )
    error = assert_error(response, 422)
    assert error["details"] and error["details"][0]["field"] == "password"
    assert await User.count() == 0


async def test_login_by_username_or_email(client):
    user = await register(client)
    for login in (user["user"]["username"], user["user"]["email"].upper()):
        response = await client.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == user["user"]["id"]


async def test_wrong_password_and_unknown_user_look_the_same(client):
    user = await register(client)
    wrong = await client.post(
        "/api/v1/auth/login", json={"login": user["user"]["username"], "password": "nope nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"login": "nobody-here", "password": "nope nope"}
    )
    wrong_error = assert_error(wrong, 401, "INVALID_CREDENTIALS")
    unknown_error = assert_error(unknown, 401, "INVALID_CREDENTIALS")
    assert wrong_error["message"] == unknown_error["message"]


async def test_me_requires_a_valid_token(client):
    assert_error(await client.get("/api/v1/auth/me"), 401, "UNAUTHORIZED")
    bad = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert_error(bad, 401, "INVALID_TOKEN")
    user = await register(client)
    me = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert me.status_code == 200
    assert me.json()["username"] == user["user"]["username"]


async def test_expired_access_token_is_refused(app_factory):
    async with app_factory(access_token_ttl_seconds=30) as client:
        from auth.tokens import issue_access_token

        user = await register(client)
        expired = issue_access_token(
            secret=client.app.state["settings"].secret_key,
            issuer="second-brain",
            ttl=-10,
            user_id=user["user"]["id"],
            session_id=user["refreshToken"].split(".")[0],
            username=user["user"]["username"],
            roles=[],
            auth_method="password",
            mfa=False,
            auth_time=0,
        )
        response = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}
        )
        assert_error(response, 401, "TOKEN_EXPIRED")


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    user = await register(client)
    first_refresh = user["refreshToken"]
    rotated = await client.post("/api/v1/auth/refresh", json={"refreshToken": first_refresh})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refreshToken"] != first_refresh
    new_headers = {"Authorization": f"Bearer {second['accessToken']}"}
    assert (await client.get("/api/v1/auth/me", headers=new_headers)).status_code == 200
    # Rotated once more: the first token's grace (the same successor) no longer applies.
    third = await client.post("/api/v1/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert third.status_code == 200, third.text
    second = third.json()
    new_headers = {"Authorization": f"Bearer {second['accessToken']}"}

    reuse = await client.post("/api/v1/auth/refresh", json={"refreshToken": first_refresh})
    assert_error(reuse, 401, "REFRESH_TOKEN_REUSED")
    # The whole session family is gone: the newest refresh and access tokens are dead too.
    after = await client.post("/api/v1/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert_error(after, 401, "SESSION_REVOKED")
    assert_error(await client.get("/api/v1/auth/me", headers=new_headers), 401, "SESSION_REVOKED")


async def test_refresh_with_garbage_is_401(client):
    for token in ("garbage", "0" * 24 + ".x", "abc.def"):
        response = await client.post("/api/v1/auth/refresh", json={"refreshToken": token})
        assert response.status_code == 401, token


async def test_logout_kills_the_access_token_at_once(client):
    user = await register(client)
    response = await client.post("/api/v1/auth/logout", headers=user["headers"])
    assert response.status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=user["headers"]), 401)
    refresh = await client.post("/api/v1/auth/refresh", json={"refreshToken": user["refreshToken"]})
    assert_error(refresh, 401, "SESSION_REVOKED")


async def test_logout_holds_even_when_redis_forgets(client, redis):
    """Revocation is stored in MongoDB: flushing Redis must not bring a session back."""
    user = await register(client)
    assert (await client.post("/api/v1/auth/logout", headers=user["headers"])).status_code == 204
    await redis.flushdb()
    assert_error(await client.get("/api/v1/auth/me", headers=user["headers"]), 401)


async def test_list_and_revoke_sessions(client):
    user = await register(client)
    name = user["user"]["username"]
    other = await client.post(
        "/api/v1/auth/login",
        json={"login": name, "password": PASSWORD},
        headers={"User-Agent": "phone"},
    )
    other_headers = {"Authorization": f"Bearer {other.json()['accessToken']}"}
    listed = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    assert listed.status_code == 200
    sessions = listed.json()["items"]
    assert len(sessions) == 2
    assert sum(1 for s in sessions if s["current"]) == 1
    phone = next(s for s in sessions if s["userAgent"] == "phone")
    assert not phone["current"]

    revoke = await client.delete(f"/api/v1/auth/sessions/{phone['id']}", headers=user["headers"])
    assert revoke.status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=other_headers), 401)
    remaining = (await client.get("/api/v1/auth/sessions", headers=user["headers"])).json()["items"]
    assert [s["id"] for s in remaining] != [phone["id"]] and len(remaining) == 1


async def test_cannot_revoke_someone_elses_session(client):
    alice = await register(client)
    bob = await register(client)
    bob_session = bob["refreshToken"].split(".")[0]
    response = await client.delete(f"/api/v1/auth/sessions/{bob_session}", headers=alice["headers"])
    assert_error(response, 404, "SESSION_NOT_FOUND")
    assert (await client.get("/api/v1/auth/me", headers=bob["headers"])).status_code == 200
    assert_error(
        await client.delete("/api/v1/auth/sessions/not-an-id", headers=alice["headers"]), 404
    )


async def test_change_password_revokes_other_sessions(client):
    user = await register(client)
    name = user["user"]["username"]
    other = (
        await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    ).json()
    other_headers = {"Authorization": f"Bearer {other['accessToken']}"}

    wrong = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": "not it at all", "newPassword": "a brand new passphrase"},
        headers=user["headers"],
    )
    assert_error(wrong, 400, "WRONG_PASSWORD")
    weak = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "short"},
        headers=user["headers"],
    )
    assert_error(weak, 422)

    ok = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"},
        headers=user["headers"],
    )
    assert ok.status_code == 204, ok.text
    assert (await client.get("/api/v1/auth/me", headers=user["headers"])).status_code == 200
    assert_error(await client.get("/api/v1/auth/me", headers=other_headers), 401)
    old = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert_error(old, 401)
    new = await client.post(
        "/api/v1/auth/login", json={"login": name, "password": "a brand new passphrase"}
    )
    assert new.status_code == 200
