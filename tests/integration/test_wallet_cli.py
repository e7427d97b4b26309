"""The ledger audit and shop commands through the real CLI (`litestar … wallet audit`)."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from litestar.cli.main import litestar_group
from pymongo import MongoClient

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str):
    runner = CliRunner()
    return runner.invoke(
        litestar_group, ["--app", "server.app:create_app", *args], env=env, catch_exceptions=False
    )


def test_audit_seed_and_grant_commands(mongo_url, redis_url):
    env = {
        "MONGODB_URL": mongo_url,
        "MONGODB_DB": f"cli_{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8192",
    }
    audit = _run(env, "wallet", "audit")
    assert audit.exit_code == 0, audit.output
    report = json.loads(audit.output)
    assert report["ok"] is True and report["mismatches"] == []
    assert report["totalBalance"] == report["minted"] - report["burned"] == 0

    seeded = _run(env, "shop", "seed")
    assert seeded.exit_code == 0 and "added" in seeded.output
    assert _run(env, "shop", "seed").output.strip() == "added 0 items"

    created = _run(
        env,
        "users",
        "create-admin",
        "--username",
        "shopkeeper",
        "--email",
        "shop@example.com",
        "--password",
        "a long enough passphrase",
    )
    assert created.exit_code == 0, created.output
    granted = _run(env, "shop", "grant-admin", "--username", "shopkeeper")
    assert granted.exit_code == 0 and "granted" in granted.output
    missing = _run(env, "shop", "grant-admin", "--username", "nobody")
    assert missing.exit_code == 1

    # A balance changed behind the ledger's back is reported, with a failing exit status.
    with MongoClient(mongo_url) as mongo:
        accounts = mongo[env["MONGODB_DB"]]["wallet_accounts"]
        accounts.update_one({"owner_type": "user"}, {"$inc": {"balance": 5}})
        tampered = accounts.find_one({"owner_type": "user"})
    broken = _run(env, "wallet", "audit")
    assert broken.exit_code == 1
    report = json.loads(broken.output)
    assert report["ok"] is False
    assert report["mismatches"] == [
        {
            "accountId": str(tampered["_id"]),
            "owner": {"type": "user", "id": str(tampered["owner_id"])},
            "balance": 5,
            "expected": 0,
        }
    ]
