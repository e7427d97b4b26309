"""The links in auth's e-mails open real pages (they answered 404 before, issue 16).

Each page is plain HTML with no script and its own CSP; GET only shows a form (mail
scanners prefetch links), the form's POST carries the one-time token and completes the
action; success and failure are sentences on a page, never JSON.
"""

from __future__ import annotations

import re

import pytest

from auth.pages.html import PAGE_CSP
from tests.helpers import PASSWORD, register
from tests.security_support import drain_mail, link_token, smtp_server

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase 77"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def mail_client(app_factory):
    with smtp_server() as (sink, port):
        async with app_factory(
            email_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
            trusted_proxies=["127.0.0.1/32"],
        ) as client:
            client.sink = sink
            yield client


def assert_page(response, status: int, *phrases: str) -> str:
    """An HTML page with the page CSP, no script, and every phrase in its text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_CSP
    body = response.text
    assert "<script" not in body.lower()
    assert not re.search(r"\son[a-z]+=", body)  # no inline event handlers either
    assert '<html lang="en">' in body
    for phrase in phrases:
        assert phrase in body, body
    return body


async def test_pages_csp_forbids_everything_but_the_hashed_style_and_own_forms():
    """The CSP allows no script, only the page's own stylesheet, and forms to itself."""
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["style-src"].startswith("'sha256-")
    assert "script-src" not in directives and "unsafe" not in PAGE_CSP


async def test_verify_email_link_page_confirms_the_address(mail_client):
    client = mail_client
    user = await register(client)
    email = user["user"]["email"]
    await drain_mail(client)
    token = link_token(client.sink.last_to(email, "confirm your e-mail"), "/verify-email")

    shown = await client.get(f"/verify-email?token={token}")
    body = assert_page(shown, 200, "Confirm my address", f'value="{token}"', 'method="post"')
    assert "<label" not in body or "for=" in body
    me = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert me.json()["emailVerified"] is False  # GET changed nothing

    done = await client.post("/verify-email", data={"token": token}, headers=FORM)
    assert_page(done, 200, f"Your address {email} is confirmed.", 'role="status"')
    me = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert me.json()["emailVerified"] is True

    again = await client.post("/verify-email", data={"token": token}, headers=FORM)
    assert_page(again, 400, "not valid any more", 'role="alert"')


async def test_link_pages_without_a_token_or_with_a_forged_one_say_so(mail_client):
    """A truncated link or a forged post (CSRF: it cannot know the token) changes nothing."""
    client = mail_client
    for path in ("/verify-email", "/reset-password", "/lockdown/confirm", "/lockdown/allow"):
        assert_page(await client.get(path), 400, "This link is incomplete")
        assert_page(await client.post(path, data={}, headers=FORM), 400, "incomplete")
        forged = {"token": "x" * 40, "newPassword": NEW_PASSWORD, "repeatPassword": NEW_PASSWORD}
        assert_page(await client.post(path, data=forged, headers=FORM), 400, "not valid")
    assert_page(await client.get("/lockdown/trust"), 400, "incomplete")


async def test_reset_password_page_sets_the_new_password(mail_client):
    client = mail_client
    user = await register(client)
    email, name = user["user"]["email"], user["user"]["username"]
    await client.post("/api/v1/auth/password/forgot", json={"email": email})
    await drain_mail(client)
    token = link_token(client.sink.last_to(email, "reset"), "/reset-password")

    shown = await client.get(f"/reset-password?token={token}")
    assert_page(shown, 200, 'autocomplete="new-password"', '<label for="newPassword">')

    differ = {"token": token, "newPassword": NEW_PASSWORD, "repeatPassword": NEW_PASSWORD + "x"}
    assert_page(await client.post("/reset-password", data=differ, headers=FORM), 422, "differ")
    weak = {"token": token, "newPassword": "short", "repeatPassword": "short"}
    answer = await client.post("/reset-password", data=weak, headers=FORM)
    assert_page(answer, 422, 'role="alert"', 'name="newPassword"')  # asked again

    good = {"token": token, "newPassword": NEW_PASSWORD, "repeatPassword": NEW_PASSWORD}
    done = await client.post("/reset-password", data=good, headers=FORM)
    assert_page(done, 200, "Your password is changed")
    login = await client.post("/api/v1/auth/login", json={"login": name, "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
    old = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert old.status_code == 401
    reused = await client.post("/reset-password", data=good, headers=FORM)
    assert_page(reused, 400, "not valid any more")


async def test_lockdown_link_pages_confirm_allow_and_trust(mail_client):
    client = mail_client
    user = await register(client)
    email = user["user"]["email"]
    creds = {"login": user["user"]["username"], "password": PASSWORD}
    answer = await client.post(
        "/api/v1/auth/lockdown/request",
        json={"enabled": True, "trustedIps": ["10.0.0.0/8"]},
        headers=user["headers"],
    )
    assert answer.status_code == 202, answer.text
    await drain_mail(client)
    confirm = link_token(client.sink.last_to(email, "lockdown"), "/lockdown/confirm")
    assert_page(await client.get(f"/lockdown/confirm?token={confirm}"), 200, "Apply the change")
    done = await client.post("/lockdown/confirm", data={"token": confirm}, headers=FORM)
    assert_page(done, 200, "lockdown is now on")

    outside = {"X-Forwarded-For": "203.0.113.7", "User-Agent": "Phone/1.0"}
    blocked = await client.post("/api/v1/auth/login", json=creds, headers=outside)
    assert blocked.status_code == 403
    await drain_mail(client)
    allow = link_token(client.sink.last_to(email, "blocked"), "/lockdown/allow")
    assert_page(await client.get(f"/lockdown/allow?token={allow}"), 200, "Allow it once")
    allowed = await client.post("/lockdown/allow", data={"token": allow}, headers=FORM)
    assert_page(allowed, 200, "Allowed once")
    assert (await client.post("/api/v1/auth/login", json=creds, headers=outside)).status_code == 200

    assert (await client.post("/api/v1/auth/login", json=creds, headers=outside)).status_code == 403
    await drain_mail(client)
    trust = link_token(client.sink.last_to(email, "blocked"), "/lockdown/trust")
    trusted = await client.post("/lockdown/trust", data={"token": trust}, headers=FORM)
    assert_page(trusted, 200, "Trusted")
    for _ in range(2):
        ok = await client.post("/api/v1/auth/login", json=creds, headers=outside)
        assert ok.status_code == 200, ok.text
