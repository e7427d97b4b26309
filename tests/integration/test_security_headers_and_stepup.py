"""Security headers on every response, step-up for sensitive changes, per-account limits."""

from __future__ import annotations

import re
import time

import pytest

from auth.documents import AuthSession
from auth.tokens import issue_access_token
from server.security_headers import API_CSP
from tests.helpers import PASSWORD, assert_error, detail_context, register

pytestmark = pytest.mark.integration

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


async def test_headers_on_api_responses_errors_and_unknown_routes(client):
    user = await register(client)
    responses = [
        await client.get("/api/v1/auth/me", headers=user["headers"]),
        await client.get("/api/v1/auth/me"),
        await client.get("/no/such/route"),
        await client.post(
            "/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}
        ),
        await client.get("/health/live"),
    ]
    for response in responses:
        for name, value in COMMON.items():
            assert response.headers[name] == value, (response.url, name)
        assert response.headers["content-security-policy"] == API_CSP
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers
        assert "permissions-policy" in response.headers


async def test_openapi_ui_is_served_offline_with_same_origin_assets_only(client):
    """Bug (issue 16): `/schema` loaded unpinned scripts from CDNs and was blank offline.
    The page references only same-origin assets (from the pinned wheel), each answers 200,
    and the page's CSP allows scripts from 'self' alone."""
    for path in ("/schema", "/schema/swagger"):
        response = await client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "http" not in csp
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in csp.split(";") if part.strip()
        )
        assert directives["script-src"] == ["'self'"]
        html = response.text
        assert "<script>" not in html and "http://" not in html and "https://" not in html
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(refs) >= 4, refs
        for ref in refs:
            assert ref.startswith("/schema/"), ref
            asset = await client.get(ref)
            assert asset.status_code == 200 and len(asset.content) > 100, ref
        spec = re.search(r'data-spec="([^"]+)"', html)
        assert spec and (await client.get(spec.group(1))).json()["openapi"].startswith("3.1")
    assert (await client.get("/schema/assets/../../etc/passwd")).status_code == 404
    assert (await client.get("/schema/assets/index.html")).status_code == 404


async def test_hsts_only_in_production(app_factory):
    async with app_factory(environment="production", secret_key="p" * 40) as client:
        response = await client.get("/health/live")
        assert response.headers["strict-transport-security"].startswith("max-age=63072000")


def _aged_token(client, body, *, age: int) -> dict[str, str]:
    """The same live session, but an access token whose authentication is `age` s old."""
    settings = client.app.state["settings"]
    token = issue_access_token(
        secret=settings.secret_key,
        issuer="second-brain",
        ttl=300,
        user_id=body["user"]["id"],
        session_id=body["refreshToken"].split(".")[0],
        username=body["user"]["username"],
        roles=[],
        auth_method="password",
        mfa=False,
        auth_time=time.time() - age,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_sensitive_changes_need_a_fresh_authentication(client):
    user = await register(client)
    stale = _aged_token(client, user, age=6 * 60)
    for method, path, body in (
        ("POST", "/api/v1/auth/totp/setup", None),
        ("POST", "/api/v1/auth/tokens", {"name": "t", "scopes": ["*"]}),
        ("POST", "/api/v1/auth/email/change", {"newEmail": "new@example.com"}),
        (
            "POST",
            "/api/v1/auth/password",
            {"currentPassword": PASSWORD, "newPassword": PASSWORD + "!"},
        ),
        ("POST", "/api/v1/auth/sessions/revoke-others", None),
        ("DELETE", f"/api/v1/auth/sessions/{user['refreshToken'].split('.')[0]}", None),
        ("DELETE", f"/api/v1/auth/admin/users/{user['user']['id']}/sessions", None),
    ):
        response = await client.request(method, path, json=body, headers=stale)
        error = assert_error(response, 403, "STEP_UP_REQUIRED")
        assert detail_context(error) == [{"maxAgeSeconds": 300}]
    # Still fine for everyday reads.
    assert (await client.get("/api/v1/auth/me", headers=stale)).status_code == 200

    wrong = await client.post(
        "/api/v1/auth/reauth", json={"password": "wrong wrong wrong"}, headers=stale
    )
    assert_error(wrong, 401, "INVALID_CREDENTIALS")
    fresh = await client.post("/api/v1/auth/reauth", json={"password": PASSWORD}, headers=stale)
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    headers = {"Authorization": f"Bearer {body['accessToken']}"}
    setup = await client.post("/api/v1/auth/totp/setup", headers=headers)
    assert setup.status_code == 200
    # Re-authentication rotates the refresh token: the old one is now a reuse.
    old = await client.post("/api/v1/auth/refresh", json={"refreshToken": user["refreshToken"]})
    assert_error(old, 401, "REFRESH_TOKEN_REUSED")


async def test_ending_other_sessions(client):
    user = await register(client)
    creds = {"login": user["user"]["username"], "password": PASSWORD}
    for _ in range(2):
        assert (await client.post("/api/v1/auth/login", json=creds)).status_code == 200
    ended = await client.post("/api/v1/auth/sessions/revoke-others", headers=user["headers"])
    assert ended.json() == {"revoked": 2}
    live = await AuthSession.find(AuthSession.revoked_at == None).to_list()  # noqa: E711
    assert [str(s.id) for s in live] == [user["refreshToken"].split(".")[0]]


async def test_per_account_limit_on_auth_endpoints(app_factory):
    async with app_factory(rate_limit_auth_per_account_per_minute=3) as client:
        user = await register(client)
        for _ in range(3):
            assert (
                await client.get("/api/v1/auth/sessions", headers=user["headers"])
            ).status_code == 200
        limited = await client.get("/api/v1/auth/sessions", headers=user["headers"])
        assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
        other = await register(client)
        assert (
            await client.get("/api/v1/auth/sessions", headers=other["headers"])
        ).status_code == 200


async def test_per_ip_limit_covers_the_new_endpoints(app_factory):
    async with app_factory(rate_limit_auth_per_ip_per_minute=2) as client:
        for _ in range(2):
            await client.post("/api/v1/auth/password/forgot", json={"email": "a@b.co"})
        limited = await client.post("/api/v1/auth/password/forgot", json={"email": "a@b.co"})
        assert_error(limited, 429, "RATE_LIMITED")
