"""Issue 15 F14: two tabs refreshing at once logged the user out."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import assert_error, register

pytestmark = pytest.mark.integration
REFRESH = "/api/v1/auth/refresh"


async def test_two_tabs_refreshing_at_once_stay_logged_in(client):
    """F14: both tabs sent the same refresh token; the second looked like reuse and revoked
    the whole session. Within REFRESH_GRACE_SECONDS both get the same new refresh token."""
    user = await register(client)
    token = user["refreshToken"]
    answers = await asyncio.gather(
        *(client.post(REFRESH, json={"refreshToken": token}) for _ in range(2))
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    successors = {a.json()["refreshToken"] for a in answers}
    assert len(successors) == 1 and token not in successors
    # One after the other, within the grace: the same pair again.
    late = await client.post(REFRESH, json={"refreshToken": token})
    assert late.status_code == 200 and late.json()["refreshToken"] in successors
    for answer in answers:
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {answer.json()['accessToken']}"}
        )
        assert me.status_code == 200
    onward = await client.post(REFRESH, json={"refreshToken": successors.pop()})
    assert onward.status_code == 200


async def test_reuse_of_an_older_token_still_revokes_the_family(client):
    """F14: the grace covers only the token just rotated; an older one is real reuse."""
    user = await register(client)
    first = user["refreshToken"]
    second = (await client.post(REFRESH, json={"refreshToken": first})).json()["refreshToken"]
    third = (await client.post(REFRESH, json={"refreshToken": second})).json()["refreshToken"]
    assert_error(
        await client.post(REFRESH, json={"refreshToken": first}), 401, "REFRESH_TOKEN_REUSED"
    )
    assert_error(await client.post(REFRESH, json={"refreshToken": third}), 401, "SESSION_REVOKED")


async def test_without_grace_a_second_use_is_reuse(app_factory):
    """F14: REFRESH_GRACE_SECONDS=0 keeps the strict rule."""
    async with app_factory(refresh_grace_seconds=0) as client:
        user = await register(client)
        token = user["refreshToken"]
        assert (await client.post(REFRESH, json={"refreshToken": token})).status_code == 200
        again = await client.post(REFRESH, json={"refreshToken": token})
        assert_error(again, 401, "REFRESH_TOKEN_REUSED")
