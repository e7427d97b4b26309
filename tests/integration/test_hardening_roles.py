"""Issue 15 F6: roles were taken from the access token alone."""

from __future__ import annotations

import time
import uuid

import pytest

from auth import roles
from auth.documents import User
from auth.tokens import issue_access_token
from tests.helpers import admin_user, assert_error, register, services

pytestmark = pytest.mark.integration
MINT = "/api/v1/admin/wallet/mint"


def forged_admin_token(client, user) -> str:
    """An access token for `user`'s real session claiming `roles: ["admin"]`, signed with
    the app's key (the published dev default, which anyone could use)."""
    config = services(client).auth.config
    return issue_access_token(
        secret=config.secret_key,
        issuer=config.jwt_issuer,
        ttl=300,
        user_id=user["user"]["id"],
        session_id=user["refreshToken"].split(".")[0],
        username=user["user"]["username"],
        roles=["admin"],
        auth_method="password",
        mfa=True,
        auth_time=time.time(),
    )


async def mint(client, headers, username):
    return await client.post(
        MINT,
        json={"to": {"username": username}, "amount": 1000, "reason": "free money"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_forged_admin_claim_grants_nothing(client):
    """F6: as a plain user, a JWT with `roles: ["admin"]` signed with the dev default key
    minted tokens. Roles are re-read from the database for every token that claims any."""
    user = await register(client)
    token = forged_admin_token(client, user)
    answer = await mint(client, {"Authorization": f"Bearer {token}"}, user["user"]["username"])
    assert answer.status_code == 403, answer.text
    assert_error(answer, 403)


async def test_demotion_bites_without_waiting_for_the_token_to_expire(client):
    """F6: a demoted admin kept admin rights for the access token's 15 minutes; now within
    the role cache (ROLE_CACHE_SECONDS, 5 s; emptied here instead of waiting)."""
    admin = await admin_user(client)
    ok = await mint(client, admin["headers"], admin["user"]["username"])
    assert ok.status_code == 201, ok.text
    await User.get_pymongo_collection().update_one(
        {"username": admin["user"]["username"]}, {"$set": {"roles": []}}
    )
    roles._ROLE_CACHE.clear()  # what 5 s would do
    assert_error(await mint(client, admin["headers"], admin["user"]["username"]), 403)
