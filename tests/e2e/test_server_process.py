"""The api as a real process: readiness after start, the admin CLI, logs without secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from scripts.devservices import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(mongo_url: str, redis_url: str, db: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MONGODB_URL": mongo_url,
            "MONGODB_DB": db,
            "REDIS_URL": redis_url,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "8192",
            "ARGON2_PARALLELISM": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def test_cli_create_admin_then_login(mongo_url, redis_url):
    db = f"test_{uuid.uuid4().hex[:12]}"
    env = _env(mongo_url, redis_url, db)
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

    port = free_port()
    server = _start_server(env, port, ROOT / ".data" / f"cli-{db}.log")
    try:
        _wait_ready(port, 60)
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"login": "root-admin", "password": "a strong admin passphrase"},
        )
        assert login.status_code == 200
        assert login.json()["user"]["roles"] == ["admin"]
    finally:
        server.terminate()
        server.wait(10)


def _start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "--factory",
            "server.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_ready(port: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/health/ready did not answer 200 within {within} s")


def test_server_is_ready_quickly_and_logs_no_secrets(mongo_url, redis_url, tmp_path):
    env = _env(mongo_url, redis_url, f"test_{uuid.uuid4().hex[:12]}")
    port = free_port()
    log_path = tmp_path / "api.log"
    server = _start_server(env, port, log_path)
    try:
        _wait_ready(port, 60)
        base = f"http://127.0.0.1:{port}"
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
        server.terminate()
        server.wait(10)
    log_text = log_path.read_text()
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
