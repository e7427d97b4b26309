"""Issue 15, bad input that was a 500 or did nothing: F8, F10, F12 over HTTP."""

from __future__ import annotations

import pytest

from auth.documents import User
from tests.helpers import assert_error, register
from tests.integration.test_api_tokens import bearer, create
from tests.integration.test_passkeys_api import BASE, enrol

pytestmark = pytest.mark.integration

DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/register", "/api/v1/wallet/transfers", "/api/v1/families"]
)
async def test_deeply_nested_json_is_a_400(client, path):
    """F8: JSON nested 1,000 deep raised RecursionError in the decoder: a 500 on every JSON
    route. It is the client's bad input: 400 `BODY_TOO_DEEP`, nothing written."""
    user = await register(client)
    users = await User.count()
    answer = await client.post(
        path,
        content=DEEP,
        headers={
            "content-type": "application/json",
            "Idempotency-Key": "deep-json-key-1",
            **user["headers"],
        },
    )
    assert_error(answer, 400, "BODY_TOO_DEEP")
    assert await User.count() == users


@pytest.fixture
async def pk_client(app_factory):
    async with app_factory(
        webauthn_rp_id="localhost", webauthn_origins=["http://localhost:8000"]
    ) as client:
        yield client


@pytest.mark.parametrize("response", ["not an object", ["a", "b"], 7, {"clientDataJSON": 5}])
async def test_passkey_login_with_malformed_response_is_a_401(pk_client, response):
    """F10: a passkey login with a known credential id and a malformed `response` was a 500
    (AttributeError inside the check); it is a refused sign-in, 401 `PASSKEY_INVALID`."""
    client = pk_client
    user = await register(client)
    device = await enrol(client, user)
    options = (await client.post(f"{BASE}/login/options", json={})).json()
    good = device.get(options["publicKey"])
    forged = {**good, "response": response}
    answer = await client.post(
        f"{BASE}/login/verify", json={"challengeId": options["challengeId"], "credential": forged}
    )
    assert_error(answer, 401, "PASSKEY_INVALID")


async def test_logout_with_an_api_token_is_refused(client):
    """F12: logout with an API token answered 204 and did nothing (the token stayed valid);
    it is a 400 with a clear code, and the token still works until it is revoked."""
    user = await register(client)
    token = (await create(client, user))["token"]
    answer = await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert_error(answer, 400, "NOT_A_SESSION")
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=user["headers"])).status_code == 204
