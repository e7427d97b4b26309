"""CPU time per request of `GET /api/v1/auth/me` (ours) and of the bench_api baseline app,
both driven in this process straight through ASGI (no uvicorn, no socket to a client).

Why: on the shared 2-core machine `bench_api.py`'s req/s swing by ±0.1 in ratio between
runs (other work takes the cores), while the CPU this process spends per request hardly
depends on the load. Both apps run on the same throwaway SecantusDB and Redis, 16
concurrent request loops each (as wrk's 16 connections), alternating; the figure is the
process CPU time (`time.process_time`, every thread, the log writer included) per request,
min and median over the repetitions. uvicorn's own share (the same for both) is not in it.

    .venv/bin/python scripts/probe_api_cpu.py [--requests 3200] [--reps 5] [--root DIR]

`--root` imports the api from another checkout (e.g. the main branch) for a before/after
comparison with the same probe. `--profile out.prof` writes a cProfile of ours.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from scripts.api_process import FAST_HASHING, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402

App = Any  # an ASGI app
Headers = list[tuple[bytes, bytes]]


async def call(app: App, method: str, path: str, headers: Headers, body: bytes = b"") -> dict:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "state": {},
    }
    answer: dict = {"body": b""}
    received = False

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer


async def cpu_per_request(app: App, path: str, headers: Headers, requests: int) -> float:
    """Microseconds of process CPU per request, `requests` spread over 16 loops."""
    per_loop = max(1, requests // 16)

    async def loop() -> None:
        for _ in range(per_loop):
            answer = await call(app, "GET", path, headers)
            if answer["status"] != 200:
                raise RuntimeError(answer)

    started = time.process_time()
    await asyncio.gather(*(loop() for _ in range(16)))
    return (time.process_time() - started) / (per_loop * 16) * 1e6


async def run(args: argparse.Namespace) -> None:
    from scripts.bench_api_baseline import create_app as create_baseline
    from server.app import create_app

    ours, base = create_app(), create_baseline()
    async with ours.lifespan(), base.lifespan():
        body = json.dumps(
            {"username": "probe", "email": "probe@example.com", "password": "a measured phrase"}
        ).encode()
        reg = await call(
            ours, "POST", "/api/v1/auth/register", [(b"content-type", b"application/json")], body
        )
        user = json.loads(reg["body"])
        auth = [(b"authorization", f"Bearer {user['accessToken']}".encode())]
        ours_path, base_path = "/api/v1/auth/me", f"/me/{user['user']['id']}"
        await cpu_per_request(ours, ours_path, auth, 800)  # warm-up
        await cpu_per_request(base, base_path, [], 800)
        profile = cProfile.Profile() if args.profile else None
        ours_us, base_us = [], []
        for _ in range(args.reps):
            if profile is not None:
                profile.enable()
            ours_us.append(await cpu_per_request(ours, ours_path, auth, args.requests))
            if profile is not None:
                profile.disable()
            base_us.append(await cpu_per_request(base, base_path, [], args.requests))
        if profile is not None:
            profile.dump_stats(args.profile)
    for name, values in (("ours", ours_us), ("baseline", base_us)):
        print(
            f"{name:8} CPU per request: min {min(values):6.0f} us, "
            f"median {statistics.median(values):6.0f} us  {[round(v) for v in values]}",
            file=sys.__stdout__,
        )
    ratio = min(base_us) / min(ours_us)
    print(f"CPU ratio baseline/ours (min): {ratio:.2f}", file=sys.__stdout__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3200)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None, help="import the api from here")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of ours")
    args = parser.parse_args()
    if args.root is not None:
        sys.path.insert(0, str(args.root.resolve()))
    with tempfile.TemporaryDirectory(prefix="probe-api-") as tmp:
        mongo = spawn_mongo(Path(tmp) / "mongo")
        redis = spawn_redis(Path(tmp) / "redis")
        try:
            os.environ.update(
                api_env(
                    mongo.url,
                    redis.url,
                    "probe_api",
                    environment="development",
                    log_level="INFO",
                    rate_limit_auth_per_ip_per_minute=1_000_000_000,
                    rate_limit_auth_per_account_per_minute=1_000_000_000,
                    **FAST_HASHING,
                )
            )
            with open(Path(tmp) / "app.log", "w") as log:  # the app's JSON logs
                sys.stdout = log
                try:
                    asyncio.run(run(args))
                finally:
                    sys.stdout = sys.__stdout__
        finally:
            mongo.stop()
            redis.stop()


if __name__ == "__main__":
    main()
