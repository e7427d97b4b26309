"""An e-mail link opened in Debian's Chromium (issue 16: the links answered 404): the page
renders under its own CSP with no console error (a blocked style would be one), the button
posts the form, and the page says the address is confirmed."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bson import ObjectId
from pymongo import MongoClient

from tests.e2e.api_factory import ApiFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium on PATH (Debian package `chromium`)", allow_module_level=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = "correct horse battery staple 42"


def _verify_link_token(apis: ApiFactory, user_id: str, email: str) -> str:
    """A verify-email token stored the way `OneTimeTokens.issue` stores one (the mail itself
    would need the SAQ worker)."""
    raw = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with MongoClient(apis.mongo_url) as mongo:
        mongo[apis.db]["one_time_tokens"].insert_one(
            {
                "purpose": "verify_email",
                "token_hash": hashlib.sha256(raw.encode()).hexdigest(),
                "user_id": ObjectId(user_id),
                "group": None,
                "data": {"email": email},
                "created_at": now,
                "expires_at": now + timedelta(hours=1),
                "used_at": None,
            }
        )
    return raw


async def test_verify_email_link_in_chromium(apis: ApiFactory):
    from playwright.async_api import async_playwright

    api = await apis.start(app="server.app:create_app", log_level="WARNING")
    name = f"u{uuid.uuid4().hex[:10]}"
    email = f"{name}@example.com"
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        registered = await client.post(
            "/api/v1/auth/register", json={"username": name, "email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        user = registered.json()
    token = _verify_link_token(apis, user["user"]["id"], email)

    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            opened = await page.goto(f"{api.base}/verify-email?token={token}")
            assert opened is not None and opened.status == 200
            # The hashed stylesheet applied (the CSP let it through): the button has margin.
            margin = await page.eval_on_selector("button", "b => getComputedStyle(b).marginTop")
            assert margin not in ("0px", "")
            await page.get_by_role("button", name="Confirm my address").click()
            await page.wait_for_selector("[role=status]")
            assert f"Your address {email} is confirmed." in await page.inner_text("main")
        finally:
            await browser.close()
    assert problems == []
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {user['accessToken']}"}
        )
        assert me.json()["emailVerified"] is True
