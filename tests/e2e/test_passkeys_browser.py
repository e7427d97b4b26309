"""A real passkey ceremony: headless Debian Chromium (Playwright) with the DevTools virtual
authenticator against the api running in a uvicorn process.

The page is served by the test itself (Playwright answers `http://localhost:PORT/passkey`),
so the page, the WebAuthn origin and the api share one origin; `localhost` because an IP
address is not a valid RP ID.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from scripts.devservices import free_port
from tests.e2e.api_factory import ApiFactory
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium on PATH (Debian package `chromium`; .ci/run installs it)",
        allow_module_level=True,
    )

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>passkey test</title></head>
<body><script>
const dec = (s) => {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
};
const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
async function api(path, body, token) {
  const headers = {'content-type': 'application/json'};
  if (token) headers['authorization'] = 'Bearer ' + token;
  const r = await fetch(path, {method: 'POST', headers, body: JSON.stringify(body ?? {})});
  const text = await r.text();
  return {status: r.status, body: text ? JSON.parse(text) : null};
}
async function registerPasskey(token, name) {
  const opts = await api('/api/v1/auth/webauthn/register/options', {}, token);
  if (opts.status !== 200) return {step: 'options', ...opts};
  const pk = opts.body.publicKey;
  pk.challenge = dec(pk.challenge);
  pk.user.id = dec(pk.user.id);
  pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => ({...c, id: dec(c.id)}));
  const cred = await navigator.credentials.create({publicKey: pk});
  const credential = {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {
      clientDataJSON: enc(cred.response.clientDataJSON),
      attestationObject: enc(cred.response.attestationObject),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
  };
  return api('/api/v1/auth/webauthn/register/verify',
             {challengeId: opts.body.challengeId, credential, name}, token);
}
async function loginPasskey(login, tamperUserVerification) {
  const opts = await api('/api/v1/auth/webauthn/login/options', login ? {login} : {});
  const pk = opts.body.publicKey;
  pk.challenge = dec(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials || []).map((c) => ({...c, id: dec(c.id)}));
  if (tamperUserVerification) pk.userVerification = 'discouraged';
  let cred;
  try {
    cred = await navigator.credentials.get({publicKey: pk});
  } catch (e) {
    return {step: 'browser', error: e.name};
  }
  const credential = {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {
      clientDataJSON: enc(cred.response.clientDataJSON),
      authenticatorData: enc(cred.response.authenticatorData),
      signature: enc(cred.response.signature),
      userHandle: cred.response.userHandle ? enc(cred.response.userHandle) : null,
    },
  };
  return api('/api/v1/auth/webauthn/login/verify',
             {challengeId: opts.body.challengeId, credential});
}
</script></body></html>"""


@pytest.fixture(scope="module")
def server(module_apis: ApiFactory) -> str:
    """The real app on `localhost:PORT`, which is also the passkey origin and RP ID."""
    port = free_port()
    origin = f"http://localhost:{port}"
    module_apis.start_sync(
        app="server.app:create_app",
        port=port,
        webauthn_rp_id="localhost",
        webauthn_origins=origin,
        log_level="WARNING",
    )
    return origin


@pytest.fixture
async def browser_page(server: str) -> AsyncIterator[tuple]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            await page.route(
                f"{server}/passkey",
                lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE),
            )
            await page.goto(f"{server}/passkey")
            cdp = await context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable")
            added = await cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                        "automaticPresenceSimulation": True,
                    }
                },
            )
            yield page, cdp, added["authenticatorId"]
        finally:
            await browser.close()


def _claims(access_token: str) -> dict:
    import base64

    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_register_logout_usernameless_login_and_refused_without_verification(
    server, browser_page
):
    page, cdp, authenticator_id = browser_page
    name = f"pk{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=server.replace("localhost", "127.0.0.1")) as http:
        reg = await http.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert reg.status_code == 201, reg.text
        token = reg.json()["accessToken"]

        created = await page.evaluate("([t]) => registerPasskey(t, 'Laptop')", [token])
        assert created["status"] == 201, created
        assert created["body"]["name"] == "Laptop"
        listed = await http.get(
            "/api/v1/auth/webauthn/credentials", headers={"Authorization": f"Bearer {token}"}
        )
        assert [c["name"] for c in listed.json()["items"]] == ["Laptop"]
        stored = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]

        out = await http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 204
        gone = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401

        # Usernameless: no login name at all, the authenticator picks the discoverable key.
        login = await page.evaluate("() => loginPasskey(null, false)")
        assert login["status"] == 200, login
        claims = _claims(login["body"]["accessToken"])
        assert claims["amr"] == "passkey" and claims["mfa"] is True
        assert login["body"]["user"]["username"] == name
        me = await http.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {login['body']['accessToken']}"}
        )
        assert me.status_code == 200

        # With the username too.
        by_name = await page.evaluate("([n]) => loginPasskey(n, false)", [name])
        assert by_name["status"] == 200, by_name

        # User verification fails: the browser refuses when the server's "required" is kept,
        # and the server refuses an assertion made without verification.
        await cdp.send(
            "WebAuthn.setUserVerified",
            {"authenticatorId": authenticator_id, "isUserVerified": False},
        )
        refused = await page.evaluate("() => loginPasskey(null, false)")
        assert refused == {"step": "browser", "error": "NotAllowedError"}, refused
        tampered = await page.evaluate("() => loginPasskey(null, true)")
        assert tampered["status"] == 401, tampered
        assert tampered["body"]["error"]["code"] == "PASSKEY_USER_NOT_VERIFIED"

        sessions = await http.get(
            "/api/v1/auth/audit",
            headers={"Authorization": f"Bearer {login['body']['accessToken']}"},
        )
        events = [e["event"] for e in sessions.json()["items"]]
        assert "passkey.added" in events and "login.failed" in events


async def test_openapi_ui_raises_no_csp_violation(server, browser_page):
    page, _, _ = browser_page
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    for path in ("/schema/swagger", "/schema"):
        await page.goto(f"{server}{path}")
        # Rendered from same-origin assets only (issue 16: CDN assets left it blank offline).
        await page.wait_for_selector(".swagger-ui .info .title", timeout=45000)
    assert violations == []
