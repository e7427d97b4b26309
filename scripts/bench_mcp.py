"""MCP tool-call round trip vs the same manager call over our REST route, and 50 sessions.

One real api process (uvicorn; SecantusDB and Redis started here). A user with an `sbp_`
API token (`wallet:read`) reads their balance: over REST (`GET /api/v1/wallet`, httpx with
keep-alive) and through MCP (`tools/call wallet_balance` with the official SDK client over
`mcp.client.streamable_http`, one connection, revision 2026-07-28): the same manager method
behind both. The two are measured in alternating batches so drift hits both alike. Prints
p50/p99 of each and the ratio MCP/REST (target <= 1.3). Then 50 MCP sessions at once, each
listing tools and calling a tool several times: errors (target 0) and calls/s.

    .venv/bin/python scripts/bench_mcp.py [--calls 400] [--sessions 50] [--per-session 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from scripts.api_process import FAST_HASHING, ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def make_token(base: str) -> str:
    name = f"bench{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": "a long pass 123"},
        )
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['accessToken']}"}
        t = await client.post(
            "/api/v1/auth/tokens",
            json={"name": "bench", "scopes": ["wallet:read"]},
            headers=headers,
        )
        t.raise_for_status()
        return str(t.json()["token"])


def mcp_session(base: str, token: str) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0)
    )
    return http, Client(streamable_http_client(f"{base}/mcp", http_client=http))


async def round_trips(base: str, token: str, calls: int, batch: int) -> tuple[list[float], ...]:
    rest: list[float] = []
    mcp: list[float] = []
    http, session = mcp_session(base, token)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        http,
        session as client,
        httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as api,
    ):
        for _ in range(20):  # warm-up of both paths
            (await api.get("/api/v1/wallet")).raise_for_status()
            await client.call_tool("wallet_balance", {})
        while len(rest) < calls:
            for _ in range(batch):
                t0 = time.perf_counter()
                r = await api.get("/api/v1/wallet")
                rest.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            for _ in range(batch):
                t0 = time.perf_counter()
                result = await client.call_tool("wallet_balance", {})
                mcp.append((time.perf_counter() - t0) * 1000)
                if result.is_error:
                    raise RuntimeError(f"tool error: {result.structured_content}")
    return rest, mcp


async def concurrent_sessions(
    base: str, token: str, sessions: int, per: int
) -> tuple[int, int, float]:
    errors = 0
    ok = 0

    async def one() -> None:
        nonlocal errors, ok
        http, session = mcp_session(base, token)
        try:
            async with http, session as client:
                tools = await client.list_tools()
                if not tools.tools:
                    errors += 1
                for _ in range(per):
                    result = await client.call_tool("wallet_balance", {})
                    if result.is_error:
                        errors += 1
                    else:
                        ok += 1
        except Exception as exc:  # counted, and the first few shown
            errors += 1
            if errors <= 3:
                print(f"  session error: {exc!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(sessions)))
    return ok, errors, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--per-session", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        mongo = spawn_mongo(tmp / "mongo")
        redis = spawn_redis(tmp / "redis")
        env = api_env(
            mongo.url,
            redis.url,
            "bench_mcp",
            environment="development",
            log_level="WARNING",
            rate_limit_register_per_ip_per_hour=100000,
            rate_limit_auth_per_ip_per_minute=100000,
            rate_limit_auth_per_account_per_minute=100000,
            **FAST_HASHING,
        )
        api = ApiProcess(env, log_path=tmp / "api.log", log_level="warning")
        try:
            api.wait_ready_sync(90)
            token = asyncio.run(make_token(api.base))
            rest, mcp = asyncio.run(round_trips(api.base, token, args.calls, args.batch))
            r50, r99 = pct(rest, 0.5), pct(rest, 0.99)
            m50, m99 = pct(mcp, 0.5), pct(mcp, 0.99)
            print(f"wallet balance, {len(rest)} calls each (alternating batches of {args.batch}):")
            print(f"  REST GET /api/v1/wallet       p50 {r50:.2f} ms  p99 {r99:.2f} ms")
            print(f"  MCP tools/call wallet_balance p50 {m50:.2f} ms  p99 {m99:.2f} ms")
            print(
                f"  ratio MCP/REST: p50 {m50 / r50:.2f}x, p99 {m99 / r99:.2f}x, "
                f"mean {statistics.mean(mcp) / statistics.mean(rest):.2f}x (target <= 1.3x)"
            )
            ok, errors, seconds = asyncio.run(
                concurrent_sessions(api.base, token, args.sessions, args.per_session)
            )
            print(
                f"{args.sessions} concurrent MCP sessions x {args.per_session} calls: {ok} ok, "
                f"{errors} errors (target 0), {ok / seconds:.0f} calls/s in {seconds:.1f} s"
            )
        finally:
            api.stop()
            with contextlib.suppress(Exception):
                redis.stop()
                mongo.stop()


if __name__ == "__main__":
    main()
