"""Requests/s of authenticated `GET /api/v1/auth/me` versus a bare Litestar + PyMongo app.

Both run as one uvicorn worker against the same SecantusDB and Redis (throwaway instances
started here), loaded the same way (wrk when installed, else a small keep-alive client).
Prints both figures and the ratio (target >= 0.7).

    .venv/bin/python scripts/bench_api.py [--seconds 10] [--connections 16] [--profile me.raw]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.api_process import ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402
from scripts.profiling import py_spy  # noqa: E402


def run_wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed responses from {url}")
    assert match, out
    return float(match.group(1))


async def _python_load(
    host: str, port: int, path: str, headers: dict[str, str], seconds: int, connections: int
) -> float:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    raw = (request + "\r\n").encode()
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        while time.monotonic() < deadline:
            writer.write(raw)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(status)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.monotonic() - started)


def measure(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    if shutil.which("wrk"):
        return run_wrk(url, headers, seconds, connections)
    parsed = httpx.URL(url)
    return asyncio.run(
        _python_load(
            parsed.host, parsed.port or 80, parsed.raw_path.decode(), headers, seconds, connections
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy raw profile of ours (one extra round)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        logs = ROOT / ".data" / "bench"
        logs.mkdir(parents=True, exist_ok=True)
        mongo = spawn_mongo(Path(tmp) / "mongo")
        redis = spawn_redis(Path(tmp) / "redis")
        env = api_env(
            mongo.url,
            redis.url,
            "bench_api",
            environment="development",
            log_level=os.environ.get("LOG_LEVEL", "INFO"),
            # One client hammers one endpoint: lift the per-IP/per-account ceilings so
            # every request is served (the limiter's Redis round trip still runs).
            rate_limit_auth_per_ip_per_minute=1_000_000_000,
            rate_limit_auth_per_account_per_minute=1_000_000_000,
        )
        ours = ApiProcess(env, log_path=logs / "api-ours.log", extra_args=["--workers", "1"])
        base = ApiProcess(
            env,
            log_path=logs / "api-base.log",
            app="scripts.bench_api_baseline:create_app",
            extra_args=["--workers", "1"],
        )
        try:
            ours.wait_ready_sync()
            base.wait_ready_sync(path="/schema")
            reg = httpx.post(
                f"{ours.base}/api/v1/auth/register",
                json={
                    "username": "bench",
                    "email": "bench@example.com",
                    "password": "a measured passphrase",
                },
                timeout=30,
            ).json()
            if "user" not in reg:
                raise RuntimeError(f"registration failed: {reg}")
            user_id = reg["user"]["id"]
            auth = {"Authorization": f"Bearer {reg['accessToken']}"}
            ours_url = f"{ours.base}/api/v1/auth/me"
            base_url = f"{base.base}/me/{user_id}"
            ours_body = httpx.get(ours_url, headers=auth).json()
            base_body = httpx.get(base_url).json()
            if ours_body != base_body:
                raise RuntimeError(f"different answers: {ours_body} vs {base_body}")

            measure(ours_url, auth, 2, args.connections)  # warm-up
            measure(base_url, {}, 2, args.connections)
            ours_rps, base_rps = [], []
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                ours_rps.append(measure(ours_url, auth, args.seconds, args.connections))
                base_rps.append(measure(base_url, {}, args.seconds, args.connections))
            with py_spy(ours.pid, args.profile):  # not counted: py-spy takes some CPU
                measure(ours_url, auth, args.seconds, args.connections)
        finally:
            ours.stop()
            base.stop()
            mongo.stop()
            redis.stop()

    o, b = statistics.median(ours_rps), statistics.median(base_rps)
    tool = "wrk" if shutil.which("wrk") else "python keep-alive client"
    print(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.seconds} s")
    print(
        f"ours     GET /api/v1/auth/me : {o:8.1f} req/s  (rounds: {[round(x) for x in ours_rps]})"
    )
    print(
        f"baseline bare Litestar+PyMongo: {b:8.1f} req/s  (rounds: {[round(x) for x in base_rps]})"
    )
    print(f"ratio ours/baseline: {o / b:.2f}  (target >= 0.70)")


if __name__ == "__main__":
    main()
