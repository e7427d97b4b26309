"""Lockdown end to end: e-mailed confirmation to turn it on, blocked logins with "allow once"
and "trust this" links, trusted devices, and X-Forwarded-For believed only from proxies."""

from __future__ import annotations

import pytest

from auth.lockdown.documents import LockdownState
from tests.helpers import PASSWORD, assert_error, register
from tests.security_support import drain_mail, link_token, smtp_server

pytestmark = pytest.mark.integration

LOCK = "/api/v1/auth/lockdown"


@pytest.fixture
async def lock_client(app_factory):
    with smtp_server() as (sink, port):
        async with app_factory(
            email_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
            trusted_proxies=["127.0.0.1/32"],
        ) as client:
            client.sink = sink
            yield client


def from_ip(ip: str, agent: str = "Phone/1.0") -> dict[str, str]:
    return {"X-Forwarded-For": ip, "User-Agent": agent}


async def turn_on(client, user, **body) -> None:
    response = await client.post(
        f"{LOCK}/request", json={"enabled": True, **body}, headers=user["headers"]
    )
    assert response.status_code == 202, response.text
    assert (await client.get(LOCK, headers=user["headers"])).json()["enabled"] is False
    await drain_mail(client)
    token = link_token(client.sink.last_to(user["user"]["email"], "lockdown"), "/lockdown/confirm")
    confirmed = await client.post(f"{LOCK}/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["enabled"] is True


async def test_blocked_login_allow_once_then_trust_this(lock_client):
    client, sink = lock_client, lock_client.sink
    user = await register(client)
    creds = {"login": user["user"]["username"], "password": PASSWORD}
    email = user["user"]["email"]
    await turn_on(client, user, trustedIps=["10.0.0.0/8"])

    assert (
        await client.post("/api/v1/auth/login", json=creds, headers=from_ip("10.9.9.9"))
    ).status_code == 200
    blocked = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("203.0.113.7"))
    assert_error(blocked, 403, "LOGIN_BLOCKED")
    await drain_mail(client)
    mail = sink.last_to(email, "blocked")
    allow, trust = link_token(mail, "/lockdown/allow"), link_token(mail, "/lockdown/trust")
    assert (await client.post(f"{LOCK}/allow", json={"token": allow})).status_code == 204
    # "Trust this" from the same mail died with it.
    assert_error(await client.post(f"{LOCK}/trust", json={"token": trust}), 400, "INVALID_LINK")
    # Another IP is not allowed by that link.
    other = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("198.51.100.1"))
    assert_error(other, 403, "LOGIN_BLOCKED")
    once = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("203.0.113.7"))
    assert once.status_code == 200, once.text
    twice = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("203.0.113.7"))
    assert_error(twice, 403, "LOGIN_BLOCKED")

    await drain_mail(client)
    trust = link_token(sink.last_to(email, "blocked"), "/lockdown/trust")
    assert (await client.post(f"{LOCK}/trust", json={"token": trust})).status_code == 204
    assert_error(await client.post(f"{LOCK}/trust", json={"token": trust}), 400, "INVALID_LINK")
    for _ in range(2):
        ok = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("203.0.113.7"))
        assert ok.status_code == 200
    state = (await client.get(LOCK, headers=user["headers"])).json()
    assert "203.0.113.7/32" in state["trustedIps"]


async def test_trusted_device_and_turning_off_needs_the_mail(lock_client):
    client, sink = lock_client, lock_client.sink
    user = await register(client)
    creds = {"login": user["user"]["username"], "password": PASSWORD}
    headers = {**user["headers"], "User-Agent": "MyLaptop/2.0"}
    await turn_on(client, {**user, "headers": headers}, trustCurrentDevice=True)
    state = (await client.get(LOCK, headers=user["headers"])).json()
    assert [d["label"] for d in state["trustedDevices"]] == ["MyLaptop/2.0"]
    ok = await client.post(
        "/api/v1/auth/login", json=creds, headers=from_ip("192.0.2.1", "MyLaptop/2.0")
    )
    assert ok.status_code == 200
    blocked = await client.post("/api/v1/auth/login", json=creds, headers=from_ip("192.0.2.1"))
    assert_error(blocked, 403, "LOGIN_BLOCKED")

    off = await client.post(f"{LOCK}/request", json={"enabled": False}, headers=user["headers"])
    assert off.status_code == 202
    assert (await client.get(LOCK, headers=user["headers"])).json()["enabled"] is True
    await drain_mail(client)
    token = link_token(sink.last_to(user["user"]["email"], "lockdown"), "/lockdown/confirm")
    assert (await client.post(f"{LOCK}/confirm", json={"token": token})).json()["enabled"] is False
    assert (
        await client.post("/api/v1/auth/login", json=creds, headers=from_ip("192.0.2.1"))
    ).status_code == 200
    device = state["trustedDevices"][0]["id"]
    removed = await client.delete(f"{LOCK}/devices/{device}", headers=user["headers"])
    assert removed.status_code == 204
    assert_error(await client.delete(f"{LOCK}/devices/{device}", headers=user["headers"]), 404)


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(app_factory):
    with smtp_server() as (sink, port):
        async with app_factory(
            email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port
        ) as client:
            client.sink = sink
            user = await register(client)
            await turn_on(client, user, trustedIps=["10.0.0.0/8"])
            creds = {"login": user["user"]["username"], "password": PASSWORD}
            spoofed = await client.post(
                "/api/v1/auth/login", json=creds, headers=from_ip("10.1.1.1")
            )
            assert_error(spoofed, 403, "LOGIN_BLOCKED")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"enabled": True}, "LOCKDOWN_NOTHING_TRUSTED"),
        ({"enabled": True, "trustedIps": ["not-an-ip"]}, "VALIDATION_ERROR"),
        ({"enabled": "yes"}, "VALIDATION_ERROR"),
        ({"enabled": True, "trustedIps": ["10.0.0.1"], "extra": 1}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_requests_change_nothing(client, body, code):
    user = await register(client)
    response = await client.post(f"{LOCK}/request", json=body, headers=user["headers"])
    assert_error(response, 422, code)
    assert await LockdownState.count() == 0
    bad_token = await client.post(f"{LOCK}/confirm", json={"token": "x" * 40})
    assert_error(bad_token, 400, "INVALID_LINK")
