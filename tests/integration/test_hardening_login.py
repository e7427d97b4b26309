"""Issue 15 F5: anyone could keep a victim from logging in (ASVS 6.1.1, 6.3.1)."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_error, register

pytestmark = pytest.mark.integration
LOGIN = "/api/v1/auth/login"


def client_at(ip: str, agent: str = "test-agent/1") -> dict[str, str]:
    """Headers of a client at `ip` (the in-process peer 127.0.0.1 is a trusted proxy here)."""
    return {"X-Forwarded-For": ip, "User-Agent": agent}


@pytest.fixture
async def proxied(app_factory):
    async with app_factory(
        trusted_proxies=["127.0.0.1"], login_max_failures=5, login_account_budget=12
    ) as client:
        yield client


async def test_strangers_failures_do_not_lock_out_the_owner(proxied):
    """F5: the delay was keyed on the login only: 11 wrong passwords from anywhere gave the
    real owner 429 for a minute, doubling. Now it is keyed on (account, client IP)."""
    client = proxied
    user = await register(client)
    name = user["user"]["username"]
    for _ in range(11):
        await client.post(
            LOGIN, json={"login": name, "password": "x" * 12}, headers=client_at("203.0.113.5")
        )
    blocked = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD}, headers=client_at("203.0.113.5")
    )
    assert_error(blocked, 429, "LOGIN_THROTTLED")
    owner = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD}, headers=client_at("198.51.100.7")
    )
    assert owner.status_code == 200, owner.text


async def test_username_and_email_share_one_budget(proxied):
    """F5: username and e-mail were separate budgets, doubling the guesses allowed."""
    client = proxied
    user = await register(client)
    logins = [user["user"]["username"], user["user"]["email"]] * 3
    codes = []
    for login in logins:
        answer = await client.post(
            LOGIN, json={"login": login, "password": "x" * 12}, headers=client_at("203.0.113.6")
        )
        codes.append(answer.json()["error"]["code"])
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["LOGIN_THROTTLED"]


async def test_distributed_guessing_hits_the_account_budget_but_known_devices_pass(proxied):
    """F5: a global per-account guess budget stops guessing from many IPs; the owner's
    known device still signs in, an unknown one waits."""
    client = proxied
    user = await register(client)
    name = user["user"]["username"]
    home = client_at("198.51.100.20", "owner-phone/2")
    assert (
        await client.post(LOGIN, json={"login": name, "password": PASSWORD}, headers=home)
    ).status_code == 200
    for i in range(12):  # the budget: 12 failures, each from a new address
        await client.post(
            LOGIN,
            json={"login": name, "password": "x" * 12},
            headers=client_at(f"203.0.113.{i + 10}"),
        )
    guess = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD}, headers=client_at("203.0.113.99")
    )
    assert_error(guess, 429, "LOGIN_ACCOUNT_THROTTLED")
    assert int(guess.headers["retry-after"]) >= 1
    owner = await client.post(LOGIN, json={"login": name, "password": PASSWORD}, headers=home)
    assert owner.status_code == 200, owner.text
