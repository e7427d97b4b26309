"""The audit chain: security events recorded, readable per user, tampering detected."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from auth.audit.documents import AuditRecord
from tests.helpers import PASSWORD, assert_error, register

pytestmark = pytest.mark.integration


async def _events(user_id=None) -> list[str]:
    query = {} if user_id is None else {"user_id": user_id}
    return [r.event async for r in AuditRecord.find(query).sort("seq")]


async def test_existing_auth_events_are_audited(client):
    user = await register(client)
    name = user["user"]["username"]
    bad = await client.post("/api/v1/auth/login", json={"login": name, "password": "wrong one!!!"})
    assert_error(bad, 401)
    login = (
        await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    ).json()
    headers = {"Authorization": f"Bearer {login['accessToken']}"}
    sessions = (await client.get("/api/v1/auth/sessions", headers=headers)).json()["items"]
    other = next(s["id"] for s in sessions if not s["current"])
    assert (
        await client.delete(f"/api/v1/auth/sessions/{other}", headers=headers)
    ).status_code == 204
    third = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert third.status_code == 200
    new_password = PASSWORD + " changed"
    changed = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": new_password},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    first = await client.post("/api/v1/auth/refresh", json={"refreshToken": login["refreshToken"]})
    assert first.status_code == 200
    # Rotated again, so the first token is past its grace (REFRESH_GRACE_SECONDS): reuse.
    second = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": first.json()["refreshToken"]}
    )
    assert second.status_code == 200
    reuse = await client.post("/api/v1/auth/refresh", json={"refreshToken": login["refreshToken"]})
    assert_error(reuse, 401, "REFRESH_TOKEN_REUSED")
    events = await _events()
    for expected in (
        "account.registered",
        "login.failed",
        "login.succeeded",
        "session.revoked",
        "password.changed",
        "session.refresh_reused",
        "session.revoked_all",
    ):
        assert expected in events, events
    failed = await AuditRecord.find_one(AuditRecord.event == "login.failed")
    assert failed.ip == "127.0.0.1" and failed.data["reason"] == "INVALID_CREDENTIALS"
    assert "password" not in str(failed.data).lower() or "wrong one" not in str(failed.data)


async def test_own_events_paginate_with_a_cursor(client):
    user = await register(client)
    other = await register(client)
    name = user["user"]["username"]
    for _ in range(4):
        await client.post("/api/v1/auth/login", json={"login": name, "password": "nope nope nope"})
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/api/v1/auth/audit", params=params, headers=user["headers"])
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert [e["event"] for e in seen] == ["login.failed"] * 4 + ["account.registered"]
    ids = [int(e["id"]) for e in seen]
    assert ids == sorted(ids, reverse=True)
    theirs = (await client.get("/api/v1/auth/audit", headers=other["headers"])).json()
    assert [e["event"] for e in theirs["items"]] == ["account.registered"]
    for params in ({"cursor": "abc"}, {"limit": 0}, {"limit": 1000}):
        bad = await client.get("/api/v1/auth/audit", params=params, headers=user["headers"])
        assert_error(bad, bad.status_code)
        assert bad.status_code in (400, 422)


async def test_chain_verifies_and_detects_tampering(client):
    audit = client.app.state["services"].auth.audit
    for i in range(6):
        await audit.record("test.event", data={"i": i, "nested": {"k": [1, "a"]}})
    report = await audit.verify()
    assert report.ok and report.records == 6

    collection = AuditRecord.get_pymongo_collection()
    await collection.update_one({"seq": 3}, {"$set": {"data.i": 99}})
    report = await audit.verify()
    assert not report.ok and report.broken_at == 3 and report.reason == "record altered"
    await collection.update_one({"seq": 3}, {"$set": {"data.i": 2}})
    assert (await audit.verify()).ok

    # Rewriting a record *and* its hash breaks the link from the next one.
    record = await AuditRecord.find_one(AuditRecord.seq == 4)
    from auth.audit.manager import _hashed_fields, record_hash

    record.event = "nothing.happened"
    record.hash = record_hash(_hashed_fields(record))
    await record.save()
    report = await audit.verify()
    assert not report.ok and report.broken_at == 5 and report.reason == "broken link"
    await collection.delete_one({"seq": 4})
    report = await audit.verify()
    assert not report.ok and report.broken_at == 4 and report.reason == "missing record"


async def test_concurrent_appends_keep_one_linear_chain(client):
    audit = client.app.state["services"].auth.audit
    await asyncio.gather(*(audit.record("race", data={"n": n}) for n in range(20)))
    report = await audit.verify()
    assert report.ok and report.records == 20


async def _run_cli(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "litestar",
        "--app",
        "server.app:create_app",
        "audit",
        "verify",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_cli_verify_command(client):
    """`litestar audit verify` in a real process: exit 0 on an intact chain, 1 when broken."""
    await client.app.state["services"].auth.audit.record("cli.check")
    settings = client.app.state["settings"]
    env = {
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db,
        "REDIS_URL": settings.redis_url,
        "LOG_LEVEL": "WARNING",
    }
    code, output = await _run_cli(env)
    assert code == 0, output
    assert "ok: 1 records" in output
    await AuditRecord.get_pymongo_collection().update_one({"seq": 1}, {"$set": {"event": "x"}})
    code, output = await _run_cli(env)
    assert code == 1, output
    assert "broken at record 1" in output
