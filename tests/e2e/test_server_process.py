"""The api as a real process: readiness after start, the admin CLI, logs without secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.api_factory import ApiFactory

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# As the api runs outside the tests: the default environment and rate limits.
PLAIN = {
    "environment": None,
    "rate_limit_auth_per_ip_per_minute": None,
    "rate_limit_auth_per_account_per_minute": None,
    "rate_limit_register_per_ip_per_hour": None,
    "ws_allowed_origins": None,
}


def test_cli_create_admin_then_login(module_apis: ApiFactory):
    env = module_apis.env(**PLAIN)
    command = [
        str(BIN / "litestar"),
        "--app",
        "server.app:create_app",
        "users",
        "create-admin",
        "--username",
        "root-admin",
        "--email",
        "root@example.com",
        "--password",
        "a strong admin passphrase",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "created admin root-admin" in done.stdout
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "ACCOUNT_EXISTS" in again.stderr

    weak = subprocess.run(
        [*command[:5], "--username", "x-admin2", "--email", "x@e.com", "--password", "short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert weak.returncode == 1 and "VALIDATION_ERROR" in weak.stderr

    api = module_apis.start_sync(app="server.app:create_app", **PLAIN)
    try:
        login = httpx.post(
            f"{api.base}/api/v1/auth/login",
            json={"login": "root-admin", "password": "a strong admin passphrase"},
        )
        assert login.status_code == 200
        assert login.json()["user"]["roles"] == ["admin"]
    finally:
        api.stop()


def test_server_is_ready_quickly_and_logs_no_secrets(module_apis: ApiFactory):
    api = module_apis.spawn(app="server.app:create_app", **PLAIN)
    try:
        api.wait_ready_sync(60)  # /health/ready answers 200 within 60 s of the start
        base = api.base
        password = "a very secret passphrase 9"
        reg = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"username": "logcheck", "email": "log@example.com", "password": password},
        ).json()
        refreshed = httpx.post(
            f"{base}/api/v1/auth/refresh", json={"refreshToken": reg["refreshToken"]}
        ).json()
        httpx.get(
            f"{base}/api/v1/auth/me?ticket=secret-ticket-value",
            headers={"Authorization": f"Bearer {refreshed['accessToken']}"},
        )
        httpx.post(f"{base}/api/v1/auth/login", json={"login": "logcheck", "password": "wrong!!"})
    finally:
        api.stop()
    log_text = api.log_text()
    secrets = [
        password,
        reg["accessToken"],
        reg["refreshToken"],
        refreshed["accessToken"],
        refreshed["refreshToken"].split(".")[1],
        "secret-ticket-value",
    ]
    for secret in secrets:
        assert secret not in log_text
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("msg") == "request"]
    assert access and all(line.get("requestId") for line in access)
    assert any(line["path"] == "/api/v1/auth/me" and line["status"] == 200 for line in access)
