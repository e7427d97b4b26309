"""Issue 15 F3: a Redis outage under load, two api processes, transfers and reads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from scripts.services_base import free_port, ping_redis
from scripts.services_spawn import start_redis
from tests.e2e.api_factory import ApiFactory
from tests.helpers import PASSWORD, login, register

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _redis(tmp: Path, port: int):
    proc, url = start_redis(tmp, port, die_with_parent=True)
    deadline = time.monotonic() + 20
    while not ping_redis(url, timeout=1.0):
        assert time.monotonic() < deadline, "redis did not start"
        time.sleep(0.05)
    return proc, url


async def _fund(apis: ApiFactory, client: httpx.AsyncClient, username: str, amount: int) -> None:
    """An admin made by the CLI (as operators do) mints `amount` to `username`."""
    name = "ops" + uuid.uuid4().hex[:8]
    command = [
        str(BIN / "litestar"), "--app", "server.app:create_app", "users", "create-admin",
        "--username", name, "--email", f"{name}@example.com", "--password", PASSWORD,
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=apis.env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    admin = await login(client, name)
    minted = await client.post(
        "/api/v1/admin/wallet/mint",
        json={"to": {"username": username}, "amount": amount, "reason": "outage test"},
        headers={**admin["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert minted.status_code == 201, minted.text


async def _one(client: httpx.AsyncClient, user: dict, other: str, kind: str) -> httpx.Response:
    if kind == "read":
        return await client.get("/api/v1/wallet", headers=user["headers"])
    return await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": other}, "amount": 1},
        headers={**user["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )


def _judge(answers: list[httpx.Response | BaseException]) -> tuple[int, int]:
    """(served, unavailable); fails on a 500, a 503 without Retry-After, anything else."""
    served = unavailable = 0
    for answer in answers:
        assert isinstance(answer, httpx.Response), repr(answer)
        assert answer.status_code != 500, answer.text
        if answer.status_code == 503:
            assert answer.headers.get("retry-after"), answer.headers
            assert answer.json()["error"]["code"] == "DEPENDENCY_UNAVAILABLE"
            unavailable += 1
        else:
            assert answer.status_code in (200, 201), answer.text
            served += 1
    return served, unavailable


async def test_redis_outage_is_503_never_500_and_recovers(apis: ApiFactory, tmp_path, mongo_url):
    """F3: with Redis stopped the authenticated API answered 500s, and after Redis returned
    each stale pooled connection failed once more (30 concurrent reads -> 29 x 500). Now:
    served (session liveness from MongoDB) or 503 DEPENDENCY_UNAVAILABLE with Retry-After,
    and full service within 2 s of Redis returning."""
    port = free_port()
    proc, url = _redis(tmp_path / "r1", port)
    try:
        a = await apis.start(redis_url=url, wallet_require_verified_email=False)
        b = await apis.start(redis_url=url, wallet_require_verified_email=False)
        async with (
            httpx.AsyncClient(base_url=a.base, timeout=30) as ca,
            httpx.AsyncClient(base_url=b.base, timeout=30) as cb,
        ):
            alice, bob = await register(ca), await register(cb)
            bob_name = bob["user"]["username"]
            await _fund(apis, ca, alice["user"]["username"], 1000)
            load = [(c, kind) for c in (ca, cb) for kind in ("read", "transfer", "read")] * 5

            async def burst() -> list[httpx.Response | BaseException]:
                return await asyncio.gather(
                    *(_one(c, alice, bob_name, kind) for c, kind in load), return_exceptions=True
                )

            assert _judge(await burst())[1] == 0  # warm: everything served
            proc.kill()
            proc.wait(10)
            during = _judge(await burst())
            assert sum(during) == len(load)
            proc, url = _redis(tmp_path / "r2", port)  # back, empty, on the same port
            returned = time.monotonic()
            while True:
                _served, unavailable = _judge(await burst())
                if unavailable == 0:
                    break
                assert time.monotonic() - returned < 2.0, "not fully served 2 s after return"
            reads = await asyncio.gather(
                *(
                    (ca if i % 2 else cb).get("/api/v1/wallet", headers=alice["headers"])
                    for i in range(30)
                )
            )
            assert [r.status_code for r in reads] == [200] * 30
    finally:
        proc.kill()
        proc.wait(10)
