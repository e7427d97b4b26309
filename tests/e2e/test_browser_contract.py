"""A web app on another origin, in Debian's Chromium (issue 16): login, a WebSocket and an
EventSource (through `clients/web/sb-events.js`) both receive transfers; the server cuts the
SSE response and the stream resumes by itself with no event missed; `Idempotent-Replayed` and
`X-Request-ID` are readable from JavaScript; no console error."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.api_process import ApiProcess
from scripts.devservices import free_port
from tests.e2e.api_factory import ApiFactory
from tests.e2e.test_contract_clients import PASSWORD, _cli_mint, _register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium on PATH (Debian package `chromium`; .ci/run installs it)",
        allow_module_level=True,
    )
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
    # A page served by `page.route` has no address of its own, so Chromium's local-network
    # checks treat it as public and refuse its requests to the loopback api: a test artefact
    # (a real Vite/Flutter dev server is itself on loopback).
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
]
HELPER = Path(__file__).resolve().parents[2] / "clients" / "web" / "sb-events.js"
APP_ORIGIN = "http://localhost:5173"  # a Vite dev server's origin; the api is elsewhere

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>web client</title></head>
<body><script type="module">
import { sbEvents } from "/sb-events.js";
window.state = { ws: [], sse: [], opens: 0, frames: [] };
window.start = async (api, login, password) => {
  const r = await fetch(api + "/api/v1/auth/login", {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({ login, password }),
  });
  const auth = await r.json();
  const headers = { authorization: "Bearer " + auth.accessToken };
  const ticket = async () => (await (await fetch(api + "/api/v1/realtime/ticket",
    { method: "POST", headers })).json()).ticket;
  const channel = "user:" + auth.user.id;
  const ws = new WebSocket(api.replace("http", "ws") + "/ws?ticket=" + await ticket());
  await new Promise((ok) => ws.addEventListener("open", ok, { once: true }));
  ws.onmessage = (m) => {
    const frame = JSON.parse(m.data);
    if (frame.type === "event" && frame.event.type === "wallet.transfer_completed")
      window.state.ws.push(frame.event);
  };
  ws.send(JSON.stringify({ type: "subscribe", channel }));
  sbEvents({
    baseUrl: api, channels: [channel], getTicket: ticket,
    onEvent: (e) => { if (e.type === "wallet.transfer_completed") window.state.sse.push(e); },
    onFrame: (f) => window.state.frames.push(f.type),
    onOpen: () => { window.state.opens += 1; },
  });
  window.send = async (to, amount, key) => {
    const res = await fetch(api + "/api/v1/wallet/transfers", {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ to: { username: to }, amount }),
    });
    return { status: res.status, replayed: res.headers.get("Idempotent-Replayed"),
             requestId: res.headers.get("X-Request-ID") };
  };
  return { status: r.status, requestId: r.headers.get("X-Request-ID"), channel };
};
</script></body></html>"""


@pytest.fixture(scope="module")
def api(module_apis: ApiFactory) -> ApiProcess:
    return module_apis.start_sync(
        app="server.app:create_app",
        port=free_port(),
        wallet_require_verified_email=False,
        cors_origins=APP_ORIGIN,
        ws_allowed_origins=APP_ORIGIN,
        sse_max_stream_seconds=1.5,
        sse_keepalive_seconds=0.5,
        log_level="WARNING",
    )


@pytest.fixture
async def page(api: ApiProcess) -> AsyncIterator[tuple[Any, list[str]]]:
    from playwright.async_api import async_playwright

    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.route(
                f"{APP_ORIGIN}/",
                lambda r: r.fulfill(status=200, content_type="text/html", body=PAGE),
            )
            await page.route(
                f"{APP_ORIGIN}/sb-events.js",
                lambda r: r.fulfill(
                    status=200, content_type="text/javascript", body=HELPER.read_text()
                ),
            )
            await page.goto(f"{APP_ORIGIN}/")
            await page.wait_for_function("typeof window.start === 'function'")
            yield page, problems
        finally:
            await browser.close()


async def _wait(page: Any, expression: str, timeout: float = 20.0) -> None:
    await page.wait_for_function(expression, timeout=timeout * 1000)


async def test_web_client_on_another_origin(api: ApiProcess, module_apis: ApiFactory, page):
    page, problems = page
    alice, bob = _register(api), _register(api)
    _cli_mint(module_apis, alice, 1000)
    base = api.base.replace("127.0.0.1", "localhost")  # another port: another origin
    try:
        started = await page.evaluate("([a, l, p]) => start(a, l, p)", [base, alice, PASSWORD])
    except Exception as exc:
        raise AssertionError(f"{exc}; console: {problems}") from exc
    assert started["status"] == 200 and started["requestId"]  # X-Request-ID readable
    await _wait(page, "window.state.frames.includes('subscribed')")

    key = uuid.uuid4().hex
    first = await page.evaluate("([t, k]) => send(t, 5, k)", [bob, key])
    again = await page.evaluate("([t, k]) => send(t, 5, k)", [bob, key])
    assert (first["status"], first["replayed"]) == (201, None)
    assert (again["status"], again["replayed"]) == (201, "true")  # Idempotent-Replayed readable
    assert first["requestId"] and first["requestId"] != again["requestId"]
    await _wait(page, "window.state.ws.length >= 1 && window.state.sse.length >= 1")

    # Transfers spanning server cuts (after 1.5 s): the stream resumes on its own
    # (same ticket, Last-Event-ID) and misses none, in order, without duplicates.
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"login": alice, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        for amount in range(1, 9):
            sent = await client.post(
                "/api/v1/wallet/transfers",
                json={"to": {"username": bob}, "amount": amount},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert sent.status_code == 201
            await asyncio.sleep(0.5)
    await _wait(page, "window.state.sse.length >= 9 && window.state.ws.length >= 9", 30)
    await asyncio.sleep(2)  # a duplicate from a resume would arrive by now
    state = await page.evaluate("window.state")
    amounts = [e["data"]["transfer"]["amount"] for e in state["sse"]]
    assert amounts == [5, *range(1, 9)]
    assert [e["data"]["transfer"]["amount"] for e in state["ws"]] == amounts
    assert state["opens"] >= 2  # the server cut the stream and it reopened by itself
    assert problems == []
