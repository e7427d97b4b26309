"""Every e-mail flow end to end through a real SMTP server (aiosmtpd) running in-process."""

from __future__ import annotations

import pytest

from auth.documents import AuthSession, User
from auth.email.documents import OutboxEmail
from auth.onetime import OneTimeToken
from tests.helpers import PASSWORD, assert_error, register
from tests.security_support import code_for_offset, drain_mail, link_token, parts, smtp_server

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase 77"


@pytest.fixture
def smtp():
    with smtp_server() as (sink, port):
        yield sink, port


@pytest.fixture
async def mail_client(app_factory, smtp):
    sink, port = smtp
    async with app_factory(
        email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5
    ) as client:
        client.sink = sink
        yield client


async def test_verify_email_after_registration(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    email = user["user"]["email"]
    assert sink.messages == []  # nothing leaves before the worker drains the outbox
    assert (await drain_mail(client))["sent"] == 1
    message = sink.last_to(email, "confirm your e-mail")
    text, html = parts(message)
    assert user["user"]["username"] in text and "<a href=" in html
    token = link_token(message, "/verify-email")
    assert await OneTimeToken.find_one(OneTimeToken.token_hash == token) is None  # stored hashed
    verified = await client.post("/api/v1/auth/email/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"email": email, "emailVerified": True}
    me = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert me.json()["emailVerified"] is True
    again = await client.post("/api/v1/auth/email/verify", json={"token": token})
    assert_error(again, 400, "INVALID_LINK")
    resend = await client.post("/api/v1/auth/email/resend-verification", headers=user["headers"])
    assert_error(resend, 409, "EMAIL_ALREADY_VERIFIED")


async def test_password_reset_is_single_use_and_ends_every_session(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    email, name = user["user"]["email"], user["user"]["username"]
    unknown = await client.post("/api/v1/auth/password/forgot", json={"email": "no@body.org"})
    known = await client.post("/api/v1/auth/password/forgot", json={"email": email.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    await drain_mail(client)
    token = link_token(sink.last_to(email, "reset your password"), "/reset-password")
    assert not sink.to("no@body.org")

    weak = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": "short"}
    )
    assert_error(weak, 422)
    reset = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert reset.status_code == 204, reset.text
    assert await AuthSession.find(AuthSession.revoked_at == None).count() == 0  # noqa: E711
    old_access = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert_error(old_access, 401, "SESSION_REVOKED")
    reuse = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": NEW_PASSWORD + "x"}
    )
    assert_error(reuse, 400, "INVALID_LINK")
    old = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert_error(old, 401)
    new = await client.post("/api/v1/auth/login", json={"login": name, "password": NEW_PASSWORD})
    assert new.status_code == 200
    await drain_mail(client)
    assert sink.last_to(email, "password was changed")


async def test_reset_token_expires_after_thirty_minutes(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": user["user"]["email"]})
    stored = await OneTimeToken.find_one(OneTimeToken.purpose == "password_reset")
    assert 29 * 60 <= (stored.expires_at - stored.created_at).total_seconds() <= 30 * 60
    await drain_mail(client)
    token = link_token(sink.last_to(user["user"]["email"], "reset"), "/reset-password")
    await OneTimeToken.get_pymongo_collection().update_one(
        {"_id": stored.id}, {"$set": {"expires_at": stored.created_at}}
    )
    late = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert_error(late, 400, "INVALID_LINK")


async def test_reset_does_not_bypass_two_factor(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    setup = (await client.post("/api/v1/auth/totp/setup", headers=user["headers"])).json()
    await client.post(
        "/api/v1/auth/totp/confirm",
        json={"code": code_for_offset(setup["secret"], 0)},
        headers=user["headers"],
    )
    await client.post("/api/v1/auth/password/forgot", json={"email": user["user"]["email"]})
    await drain_mail(client)
    token = link_token(sink.last_to(user["user"]["email"], "reset"), "/reset-password")
    no_code = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert_error(no_code, 401, "TOTP_REQUIRED")
    ok = await client.post(
        "/api/v1/auth/password/reset",
        json={
            "token": token,
            "newPassword": NEW_PASSWORD,
            "totpCode": code_for_offset(setup["secret"], 1),
        },
    )
    assert ok.status_code == 204, ok.text


async def test_new_login_alert_only_for_a_new_device(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    email, name = user["user"]["email"], user["user"]["username"]
    creds = {"login": name, "password": PASSWORD}
    await client.post("/api/v1/auth/login", json=creds)  # same device as registration
    await drain_mail(client)
    assert not [m for m in sink.to(email) if "new sign-in" in m["Subject"].lower()]
    await client.post("/api/v1/auth/login", json=creds, headers={"User-Agent": "Evil/1.0"})
    await drain_mail(client)
    alert = sink.last_to(email, "new sign-in")
    text, html = parts(alert)
    assert "Evil/1.0" in text and "127.0.0.1" in text and "Evil/1.0" in html


async def test_change_email_confirms_new_address_and_tells_the_old_one(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    old = user["user"]["email"]
    other = await register(client)
    taken = await client.post(
        "/api/v1/auth/email/change",
        json={"newEmail": other["user"]["email"]},
        headers=user["headers"],
    )
    assert_error(taken, 409, "ACCOUNT_EXISTS")
    new = "fresh-" + old
    changed = await client.post(
        "/api/v1/auth/email/change", json={"newEmail": new}, headers=user["headers"]
    )
    assert changed.status_code == 202, changed.text
    assert (await User.find_one(User.username == user["user"]["username"])).email == old
    await drain_mail(client)
    token = link_token(sink.last_to(new, "confirm"), "/verify-email")
    confirmed = await client.post("/api/v1/auth/email/verify", json={"token": token})
    assert confirmed.json() == {"email": new, "emailVerified": True}
    await drain_mail(client)
    notice = sink.last_to(old, "address was changed")
    assert new in parts(notice)[0]


async def test_html_part_escapes_values(mail_client):
    client, sink = mail_client, mail_client.sink
    user = await register(client)
    await client.post(
        "/api/v1/auth/login",
        json={"login": user["user"]["username"], "password": PASSWORD},
        headers={"User-Agent": "<script>alert(1)</script>"},
    )
    await drain_mail(client)
    _, html = parts(sink.last_to(user["user"]["email"], "new sign-in"))
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_outbox_retries_with_backoff_then_gives_up(app_factory):
    # Nothing listens on this port: every attempt fails.
    from tests.security_support import _free_port

    async with app_factory(
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=_free_port(),
        smtp_timeout_seconds=2,
        email_max_attempts=2,
        email_retry_base_seconds=1,
    ) as client:
        await register(client)
        assert (await drain_mail(client)) == {"sent": 0, "retried": 1, "failed": 0}
        mail = await OutboxEmail.find_one()
        assert mail.status == "pending" and mail.attempts == 1 and mail.last_error
        assert (await drain_mail(client))["retried"] == 0  # not due yet (backoff)
        await OutboxEmail.get_pymongo_collection().update_one(
            {"_id": mail.id}, {"$set": {"next_attempt_at": mail.created_at}}
        )
        assert (await drain_mail(client)) == {"sent": 0, "retried": 0, "failed": 1}
        assert (await OutboxEmail.find_one()).status == "failed"


async def test_file_sink_in_development(app_factory, tmp_path):
    async with app_factory(email_backend="file", email_file_dir=str(tmp_path)) as client:
        await register(client)
        assert (await drain_mail(client))["sent"] == 1
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1 and b"Confirm your e-mail address" in files[0].read_bytes()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/email/verify", {"token": "short"}),
        ("/api/v1/auth/email/verify", {}),
        ("/api/v1/auth/password/forgot", {"email": "not-an-address"}),
        ("/api/v1/auth/password/reset", {"token": "x" * 43}),
        ("/api/v1/auth/password/reset", {"token": "x" * 43, "newPassword": NEW_PASSWORD, "y": 1}),
    ],
)
async def test_bad_input_writes_nothing(client, path, body):
    response = await client.post(path, json=body)
    assert_error(response, 422, "VALIDATION_ERROR")
    assert await OutboxEmail.count() == 0 and await OneTimeToken.count() == 0
