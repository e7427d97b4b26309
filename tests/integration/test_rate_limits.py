"""Per-IP limits and the growing per-account delay after failed logins."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_error, register

pytestmark = pytest.mark.integration


async def test_per_ip_login_limit_answers_429_with_retry_after(app_factory):
    async with app_factory(rate_limit_auth_per_ip_per_minute=3) as client:
        for _ in range(3):
            response = await client.post(
                "/api/v1/auth/login", json={"login": "ghost", "password": "whatever pass"}
            )
            assert response.status_code == 401
        limited = await client.post(
            "/api/v1/auth/login", json={"login": "ghost", "password": "whatever pass"}
        )
        error = assert_error(limited, 429, "RATE_LIMITED")
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert error["details"][0]["retryAfter"] == retry_after


async def test_register_limit_per_ip(app_factory):
    async with app_factory(rate_limit_register_per_ip_per_hour=2) as client:
        await register(client)
        await register(client)
        response = await client.post(
            "/api/v1/auth/register",
            json={"username": "third1", "email": "t@e.com", "password": PASSWORD},
        )
        assert_error(response, 429, "RATE_LIMITED")


async def test_failed_logins_grow_a_delay_not_a_lock(app_factory, redis):
    async with app_factory(login_max_failures=3) as client:
        user = await register(client)
        name = user["user"]["username"]
        for _ in range(3):
            bad = await client.post(
                "/api/v1/auth/login", json={"login": name, "password": "x" * 12}
            )
            assert_error(bad, 401, "INVALID_CREDENTIALS")
        # Past the threshold even the right password must wait.
        throttled = await client.post(
            "/api/v1/auth/login", json={"login": name, "password": PASSWORD}
        )
        assert_error(throttled, 429, "LOGIN_THROTTLED")
        first_wait = int(throttled.headers["retry-after"])
        # Once the delay passes (simulated by expiring it), the right password works again.
        # Keyed on (account, client IP) since issue 15 F5.
        await redis.delete(f"auth:delay:u:{user['user']['id']}|127.0.0.1")
        ok = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
        assert ok.status_code == 200
        assert first_wait >= 1


async def test_delay_doubles_with_each_further_failure(app_factory, redis):
    async with app_factory(login_max_failures=2) as client:
        waits = []
        for _ in range(4):
            await redis.delete("auth:delay:l:someone|127.0.0.1")
            await client.post("/api/v1/auth/login", json={"login": "someone", "password": "x" * 12})
            waits.append(await redis.ttl("auth:delay:l:someone|127.0.0.1"))
        # failures 1 (no delay), 2 -> 1 s, 3 -> 2 s, 4 -> 4 s
        assert waits[0] == -2
        assert waits[1] <= waits[2] <= waits[3]
        assert waits[3] >= 3


async def test_unknown_accounts_are_throttled_like_real_ones(app_factory):
    """No enumeration: a made-up login gets the same 401s and then the same 429."""
    async with app_factory(login_max_failures=2) as client:
        codes = []
        for _ in range(3):
            response = await client.post(
                "/api/v1/auth/login", json={"login": "made-up", "password": "y" * 12}
            )
            codes.append(response.json()["error"]["code"])
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "LOGIN_THROTTLED"]
