"""Ledger throughput: transfers/s through `WalletManager` versus raw PyMongo `$inc`s.

Same throwaway SecantusDB and Redis (started here), same run, same concurrency (32 tasks),
same account topology (random pairs among the same number of funded accounts):

- **manager** `WalletManager.transfer(actor, cmd, idempotency_key=...)`: the permission
  and e-mail checks, the recipient lookup, one transaction (a read of both accounts unless
  this process committed both last, server/wallet/account_cache.py; then the conditional
  debit and credit, the immutable transfer and the idempotency record in one `bulk_write`;
  retried on conflicts), the two `wallet.transfer_completed` events on Redis after the
  commit, and the recipient's `wallet.transfer_received` notification (stored and pushed
  by a post-commit task; the bench checks that every transfer got one, and waits for them,
  untimed, before the next variant runs).
- **core** `Ledger.commit_move(movement)`: the ledger core alone (transaction + events).
- **baseline** raw PyMongo: conditional `$inc` debit (`balance >= amount`) then `$inc`
  credit, no transaction, no record, no events.

Then the api runs under uvicorn (one worker, a subprocess) and 32 concurrent clients send
`POST /api/v1/wallet/transfers`: p50/p99 latency and requests/s.

    .venv/bin/python scripts/bench_ledger.py [--transfers 1500] [--http-requests 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.api_process import ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402

CONCURRENCY = 32
ACCOUNTS = 64
FUNDS = 10**9


def oid(value: Any) -> Any:
    """A stored document's id (always set once inserted)."""
    assert value is not None
    return value


def pairs(n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.sample(range(ACCOUNTS), 2)
        out.append((a, b))
    return out


async def run_concurrently(jobs: list[Any], work: Any) -> float:
    """Run `work(job)` for every job with CONCURRENCY tasks; returns the elapsed seconds."""
    queue = list(reversed(jobs))

    async def runner() -> None:
        while queue:
            await work(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def bench_in_process(mongo_url: str, redis_url: str, n: int) -> dict[str, list[float]]:
    """Transfers/s per round for each variant ("manager", "core", "baseline")."""
    from bson import ObjectId
    from pymongo import ReturnDocument

    from auth.documents import User
    from server.compose.build import open_services
    from server.core.actor import Actor
    from server.settings import Settings
    from server.wallet.movement import Movement
    from server.wallet.schemas import Party, TransferRequest

    settings = Settings(
        mongodb_url=mongo_url, mongodb_db="bench_ledger", redis_url=redis_url, log_level="WARNING"
    )
    services = await open_services(settings)
    wallet = services.wallet
    ledger = services.ledger
    try:
        users = []
        for i in range(ACCOUNTS):
            user = User(
                username=f"bench{i}",
                email=f"bench{i}@example.com",
                password_hash="-",
                email_verified=True,
            )
            await user.insert()
            users.append(user)
        issuer = await ledger.issuer_account()
        accounts = []
        for user in users:
            account = await ledger.open_account("user", oid(user.id))
            await ledger.commit_move(
                Movement(
                    from_account=oid(issuer.id),
                    to_account=oid(account.id),
                    amount=FUNDS,
                    kind="mint",
                    idempotency_key=f"bench:fund:{user.id}",
                    actor_id=ObjectId(),
                )
            )
            accounts.append(account)
        actors = [Actor(user_id=oid(u.id), username=u.username) for u in users]

        async def manager_transfer(pair: tuple[int, int]) -> None:
            a, b = pair
            await wallet.transfer(
                actors[a],
                TransferRequest(to=Party(username=users[b].username), amount=1),
                idempotency_key=uuid.uuid4().hex,
            )

        async def core_move(pair: tuple[int, int]) -> None:
            a, b = pair
            await ledger.commit_move(
                Movement(
                    from_account=oid(accounts[a].id),
                    to_account=oid(accounts[b].id),
                    amount=1,
                    kind="transfer",
                    idempotency_key=uuid.uuid4().hex,
                    actor_id=oid(users[a].id),
                )
            )

        raw = services.mongo["bench_ledger"]["baseline_accounts"]
        await raw.insert_many([{"_id": i, "balance": FUNDS} for i in range(ACCOUNTS)])

        async def baseline(pair: tuple[int, int]) -> None:
            a, b = pair
            debited = await raw.find_one_and_update(
                {"_id": a, "balance": {"$gte": 1}},
                {"$inc": {"balance": -1}},
                return_document=ReturnDocument.AFTER,
            )
            if debited is None:
                raise RuntimeError("baseline overdraft")
            await raw.update_one({"_id": b}, {"$inc": {"balance": 1}})

        warm = pairs(200, 1)
        await run_concurrently(warm, baseline)
        await run_concurrently(warm, manager_transfer)
        results: dict[str, list[float]] = {"manager": [], "core": [], "baseline": []}
        await ledger.hooks.drain()  # the warm-up's notifications
        notifications = services.mongo["bench_ledger"]["notifications"]
        before = await notifications.count_documents({"type": "wallet.transfer_received"})
        for round_ in range(3):  # interleaved rounds, so drift hits all alike
            jobs = pairs(n, 100 + round_)
            results["baseline"].append(n / await run_concurrently(jobs, baseline))
            results["manager"].append(n / await run_concurrently(jobs, manager_transfer))
            # The notifications run after each answer; let them finish (untimed) so they do
            # not slow the next variant's round.
            await ledger.hooks.drain()
            results["core"].append(n / await run_concurrently(jobs, core_move))
            await ledger.hooks.drain()
        stored = await notifications.count_documents({"type": "wallet.transfer_received"}) - before
        if stored != 6 * n:  # one per manager transfer and per core move
            raise RuntimeError(f"{stored} transfer-received notifications for {6 * n} transfers")
        from server.wallet.audit import run_audit

        report = await run_audit()
        if not report.ok:
            raise RuntimeError(f"audit failed after the benchmark: {report}")
        return results
    finally:
        await services.close()


async def bench_http(base: str, mongo_url: str, db: str, n: int) -> dict[str, float]:
    from pymongo import AsyncMongoClient

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        users = []
        for i in range(CONCURRENCY):
            body = (
                await client.post(
                    "/api/v1/auth/register",
                    json={
                        "username": f"http{i}",
                        "email": f"http{i}@example.com",
                        "password": "a measured passphrase",
                    },
                )
            ).json()
            if "user" not in body:
                raise RuntimeError(f"registration failed: {body}")
            users.append(body)
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
        database = mongo[db]
        await database["users"].update_many({}, {"$set": {"email_verified": True}})
        from bson import ObjectId

        ids = [ObjectId(u["user"]["id"]) for u in users]
        # Fund every wallet directly (a bench shortcut: the audit is not run on this db).
        await database["wallet_accounts"].update_many(
            {"owner_type": "user", "owner_id": {"$in": ids}}, {"$set": {"balance": FUNDS}}
        )
        await mongo.close()

        latencies: list[float] = []
        failures = 0
        per_client = max(1, n // CONCURRENCY)

        async def client_loop(i: int) -> None:
            nonlocal failures
            rng = random.Random(i)
            headers = {"Authorization": f"Bearer {users[i]['accessToken']}"}
            async with httpx.AsyncClient(base_url=base, timeout=60) as own:
                for _ in range(per_client):
                    j = rng.choice([k for k in range(CONCURRENCY) if k != i])
                    started = time.perf_counter()
                    response = await own.post(
                        "/api/v1/wallet/transfers",
                        json={"to": {"username": users[j]["user"]["username"]}, "amount": 1},
                        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                    )
                    latencies.append(time.perf_counter() - started)
                    if response.status_code != 201:
                        failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client_loop(i) for i in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=1500, help="per round and variant")
    parser.add_argument("--http-requests", type=int, default=1500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        mongo = spawn_mongo(Path(tmp) / "mongo")
        redis = spawn_redis(Path(tmp) / "redis")
        try:
            inproc = asyncio.run(bench_in_process(mongo.url, redis.url, args.transfers))
            logs = ROOT / ".data" / "bench"
            logs.mkdir(parents=True, exist_ok=True)
            env = api_env(
                mongo.url,
                redis.url,
                "bench_ledger_http",
                environment="development",
                log_level="WARNING",
                argon2_time_cost=1,
                argon2_memory_kib=8192,
                rate_limit_auth_per_ip_per_minute=1_000_000_000,
                rate_limit_auth_per_account_per_minute=1_000_000_000,
                rate_limit_register_per_ip_per_hour=1_000_000_000,
            )
            api = ApiProcess(env, log_path=logs / "api-ledger.log", extra_args=["--workers", "1"])
            try:
                api.wait_ready_sync()
                http = asyncio.run(
                    bench_http(api.base, mongo.url, "bench_ledger_http", args.http_requests)
                )
            finally:
                api.stop()
        finally:
            mongo.stop()
            redis.stop()

    m, c, b = (statistics.median(inproc[k]) for k in ("manager", "core", "baseline"))
    rounds = {k: [round(x) for x in values] for k, values in inproc.items()}
    print(f"concurrency {CONCURRENCY}, {ACCOUNTS} accounts, {args.transfers} transfers x 3 rounds")
    print(f"manager  WalletManager.transfer : {m:8.1f} transfers/s  {rounds['manager']}")
    print(f"core     Ledger.commit_move     : {c:8.1f} transfers/s  {rounds['core']}")
    print(f"baseline raw PyMongo $inc x2    : {b:8.1f} transfers/s  {rounds['baseline']}")
    print(f"ratio manager/baseline: {m / b:.2f}  (target >= 0.50)")
    print(f"ratio core/baseline:    {c / b:.2f}")
    print(
        f"HTTP POST /api/v1/wallet/transfers, {CONCURRENCY} clients, {http['requests']:.0f} "
        f"requests ({http['failures']:.0f} failed): p50 {http['p50_ms']:.1f} ms, "
        f"p99 {http['p99_ms']:.1f} ms, {http['rps']:.1f} req/s"
    )


if __name__ == "__main__":
    main()
