"""Issue 15 through the one api entry point (`python -m server.serve`), as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from scripts.api_process import api_env
from server.settings import DEFAULT_SECRET_KEY
from tests.e2e.api_factory import ApiFactory
from tests.e2e.realtime_support import connect, expect_close
from tests.e2e.realtime_support import register as realtime_register
from tests.helpers import register

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def test_forwarded_for_from_loopback_is_not_believed(apis: ApiFactory):
    """F4: uvicorn's proxy_headers trusted X-Forwarded-For from 127.0.0.1 although
    TRUSTED_PROXIES was empty, so a forged header rewrote the client address: the session
    (and audit log) recorded the forged IP and per-IP limits were bypassed."""
    api = await apis.start()
    async with httpx.AsyncClient(base_url=api.base) as client:
        user = await register(client)
        forged = {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
        answer = await client.post(
            "/api/v1/auth/login",
            json={"login": user["user"]["username"], "password": "correct horse battery staple 42"},
            headers=forged,
        )
        assert answer.status_code == 200, answer.text
        sessions = await client.get(
            "/api/v1/auth/sessions",
            headers={"Authorization": f"Bearer {answer.json()['accessToken']}"},
        )
        ips = {item["ip"] for item in sessions.json()["items"]}
        assert "203.0.113.9" not in ips
        assert ips == {"127.0.0.1"}


async def test_per_ip_auth_limit_holds_with_forged_forwarded_for(apis: ApiFactory):
    """F4: each request with a new forged X-Forwarded-For counted as a new client, so the
    per-IP auth limit never bit; from 127.0.0.1 with no trusted proxy it must."""
    api = await apis.start(rate_limit_auth_per_ip_per_minute=3)
    async with httpx.AsyncClient(base_url=api.base) as client:
        codes = []
        for i in range(5):
            answer = await client.post(
                "/api/v1/auth/login",
                json={"login": f"nobody{i}", "password": "wrong password 123"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            codes.append(answer.status_code)
        assert codes[-1] == 429, codes


async def test_websocket_frame_over_limit_is_refused_by_the_server(apis: ApiFactory):
    """Issue 15: the gateway's frame limit applied only after uvicorn had buffered up to
    16 MiB per frame; server.serve sets uvicorn's ws_max_size from WS_MAX_FRAME_BYTES, so a
    frame just over the limit is refused with 1009 by the server itself."""
    api = await apis.start(ws_max_frame_bytes=4096, collab_max_message_bytes=4096)
    user = await realtime_register(api.base)
    socket = await connect(api, user, max_size=None)
    await socket.send("x" * 5000)
    code, reason = await expect_close(socket)
    assert code == 1009
    assert reason != "frame too big"  # the gateway's own reason: it would have been buffered


def test_published_secret_refused_beyond_loopback(module_apis: ApiFactory):
    """F6: with the published dev SECRET_KEY anyone could sign an admin JWT; the entry point
    refuses to listen on a non-loopback address with it."""
    env = api_env(
        module_apis.mongo_url, module_apis.redis_url, module_apis.db,
        environment="development", secret_key=DEFAULT_SECRET_KEY,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "server.serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr
