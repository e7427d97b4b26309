"""Passkey endpoints with a software authenticator: challenges single-use, sign-count
regressions refused, credentials listable, renamable, removable; bad input writes nothing."""

from __future__ import annotations

import pytest

from auth.webauthn.documents import WebAuthnCredential
from tests.helpers import assert_error, register
from tests.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.integration

ORIGIN = "http://localhost:8000"
BASE = "/api/v1/auth/webauthn"


@pytest.fixture
async def pk_client(app_factory):
    async with app_factory(webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as client:
        yield client


async def enrol(client, user, name="Phone") -> SoftAuthenticator:
    device = SoftAuthenticator(rp_id="localhost", origin=ORIGIN)
    options = (await client.post(f"{BASE}/register/options", headers=user["headers"])).json()
    assert options["publicKey"]["authenticatorSelection"]["userVerification"] == "required"
    assert options["publicKey"]["authenticatorSelection"]["residentKey"] == "required"
    verify = await client.post(
        f"{BASE}/register/verify",
        json={
            "challengeId": options["challengeId"],
            "credential": device.create(options["publicKey"]),
            "name": name,
        },
        headers=user["headers"],
    )
    assert verify.status_code == 201, verify.text
    return device


async def login(client, device, *, count=None, login_name=None):
    body = {"login": login_name} if login_name else {}
    options = (await client.post(f"{BASE}/login/options", json=body)).json()
    return await client.post(
        f"{BASE}/login/verify",
        json={
            "challengeId": options["challengeId"],
            "credential": device.get(options["publicKey"], count=count),
        },
    )


async def test_login_and_sign_count_regression_refused(pk_client):
    client = pk_client
    user = await register(client)
    device = await enrol(client, user)
    first = await login(client, device)
    assert first.status_code == 200, first.text
    assert (await login(client, device, login_name=user["user"]["username"])).status_code == 200
    stored = await WebAuthnCredential.find_one()
    assert stored.sign_count == 2 and stored.last_used_at is not None
    # A cloned authenticator replays an old counter.
    cloned = await login(client, device, count=1)
    assert_error(cloned, 401, "PASSKEY_INVALID")
    assert (await WebAuthnCredential.find_one()).sign_count == 2


async def test_challenges_are_single_use_and_bound_to_their_purpose(pk_client):
    client = pk_client
    user = await register(client)
    device = await enrol(client, user)
    options = (await client.post(f"{BASE}/login/options", json={})).json()
    credential = device.get(options["publicKey"])
    ok = await client.post(
        f"{BASE}/login/verify",
        json={"challengeId": options["challengeId"], "credential": credential},
    )
    assert ok.status_code == 200
    replay = await client.post(
        f"{BASE}/login/verify",
        json={"challengeId": options["challengeId"], "credential": credential},
    )
    assert_error(replay, 400, "PASSKEY_CHALLENGE_INVALID")
    reg_options = (await client.post(f"{BASE}/register/options", headers=user["headers"])).json()
    key = f"webauthn:chal:{reg_options['challengeId']}"
    redis = client.app.state["services"].redis
    assert 0 < await redis.ttl(key) <= 300
    wrong_kind = await client.post(
        f"{BASE}/login/verify",
        json={"challengeId": reg_options["challengeId"], "credential": credential},
    )
    assert_error(wrong_kind, 400, "PASSKEY_CHALLENGE_INVALID")
    assert await redis.exists(key) == 0  # presented once, for any purpose: gone


async def test_unverified_user_is_refused(pk_client):
    client = pk_client
    user = await register(client)
    device = await enrol(client, user)
    device.user_verified = False
    refused = await login(client, device)
    assert_error(refused, 401, "PASSKEY_USER_NOT_VERIFIED")


async def test_manage_credentials(pk_client):
    client = pk_client
    user = await register(client)
    other = await register(client)
    await enrol(client, user, "Phone")
    await enrol(client, user, "Key")
    listed = (await client.get(f"{BASE}/credentials", headers=user["headers"])).json()["items"]
    assert [c["name"] for c in listed] == ["Phone", "Key"]
    first = listed[0]["id"]
    renamed = await client.patch(
        f"{BASE}/credentials/{first}", json={"name": "Old phone"}, headers=user["headers"]
    )
    assert renamed.json()["name"] == "Old phone"
    for method, kwargs in (("PATCH", {"json": {"name": "mine"}}), ("DELETE", {})):
        theirs = await client.request(
            method, f"{BASE}/credentials/{first}", headers=other["headers"], **kwargs
        )
        assert_error(theirs, 404, "PASSKEY_NOT_FOUND")
    removed = await client.delete(f"{BASE}/credentials/{first}", headers=user["headers"])
    assert removed.status_code == 204
    assert await WebAuthnCredential.count() == 1
    assert_error(await client.delete(f"{BASE}/credentials/not-an-id", headers=user["headers"]), 404)


async def test_bad_registration_input_writes_nothing(pk_client):
    client = pk_client
    user = await register(client)
    options = (await client.post(f"{BASE}/register/options", headers=user["headers"])).json()
    garbage = await client.post(
        f"{BASE}/register/verify",
        json={"challengeId": options["challengeId"], "credential": {"id": "x", "response": {}}},
        headers=user["headers"],
    )
    assert_error(garbage, 400, "PASSKEY_INVALID")
    wrong_origin = SoftAuthenticator(rp_id="localhost", origin="https://evil.example")
    options = (await client.post(f"{BASE}/register/options", headers=user["headers"])).json()
    phished = await client.post(
        f"{BASE}/register/verify",
        json={
            "challengeId": options["challengeId"],
            "credential": wrong_origin.create(options["publicKey"]),
        },
        headers=user["headers"],
    )
    assert_error(phished, 400, "PASSKEY_INVALID")
    for body in (
        {"challengeId": "short", "credential": {}},
        {"credential": {}},
        {"challengeId": "x" * 20, "credential": "str"},
    ):
        bad = await client.post(f"{BASE}/register/verify", json=body, headers=user["headers"])
        assert_error(bad, 422, "VALIDATION_ERROR")
    unknown = await client.post(
        f"{BASE}/login/verify",
        json={"challengeId": options["challengeId"], "credential": {"rawId": "AAAA"}},
    )
    assert_error(unknown, 400, "PASSKEY_CHALLENGE_INVALID")
    assert await WebAuthnCredential.count() == 0
