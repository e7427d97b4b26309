"""Where the memory of an idle WebSocket goes: a `tracemalloc` split of the api process.

    .venv/bin/python -m scripts.ws_memory_probe [--sockets 1000] [--frames 12] [--top 25]
        [--ws websockets-sansio|websockets|wsproto]

Starts throwaway services (SecantusDB, Redis) unless MONGODB_URL / REDIS_URL are set, and
the api as `server.serve` does. After a warm-up of 20 sockets, `tracemalloc` is started in
the server (SIGUSR1, after a `gc.collect()`: only what is allocated from then on is traced),
`--sockets` subscribed idle sockets are opened (as `bench_fanout` does) and a second SIGUSR1
takes a snapshot (after a `gc.collect()`). Prints the bytes still allocated per connection
grouped by file, then the largest allocation sites (`--frames` deep tracebacks, innermost
first). Tracing makes the server slower and bigger: this finds *where* memory goes; the
per-connection RSS figures come from `scripts/bench_fanout.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://localhost:3000"


def _serve(argv: list[str]) -> None:
    """The api process: `server.serve`; SIGUSR1 starts tracing (snapshot 0), the next one
    dumps snapshot 1 into $WS_PROBE_SNAPSHOT.1."""
    target = os.environ["WS_PROBE_SNAPSHOT"]
    frames = int(os.environ.get("WS_PROBE_FRAMES", "12"))
    counter = iter(range(1_000_000))

    def snapshot(_signum: int, _frame: Any) -> None:
        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        path = f"{target}.{next(counter)}"
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, snapshot)
    from server import serve

    ws = os.environ.get("WS_PROBE_WS")
    if ws:  # compare uvicorn's WebSocket implementations (`--ws wsproto`)
        options = serve.uvicorn_options

        def with_ws(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {**options(*args, **kwargs), "ws": ws}

        serve.uvicorn_options = with_ws
    serve.main(argv)


async def _snapshot(pid: int, prefix: str, index: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    path = f"{prefix}.{index}"
    while not os.path.exists(path):  # noqa: ASYNC240  # a local file, polled
        await asyncio.sleep(0.2)
    return tracemalloc.Snapshot.load(path)


async def _probe(args: argparse.Namespace, mongo_url: str, redis_url: str, tmp: Path) -> None:
    import httpx
    import websockets
    from websockets.typing import Origin

    from scripts.api_process import FAST_HASHING, api_env, register_user
    from scripts.services_base import HOST, free_port, popen_logged, stop_pid

    port = free_port()
    env = api_env(
        mongo_url,
        redis_url,
        f"probe_{int(time.time())}",
        log_level="WARNING",
        ws_allowed_origins=ORIGIN,
        rate_limit_auth_per_ip_per_minute=100000,
        rate_limit_register_per_ip_per_hour=100000,
        **FAST_HASHING,
    )
    prefix = str(tmp / "snap")
    env.update(WS_PROBE_FRAMES=str(args.frames), WS_PROBE_SNAPSHOT=prefix, WS_PROBE_WS=args.ws)
    cmd = [sys.executable, "-m", "scripts.ws_memory_probe", "--serve", "--port", str(port)]
    proc = popen_logged(cmd, tmp / "api.log", ROOT, die_with_parent=True, env=env)
    base = f"http://{HOST}:{port}"
    sockets: list[Any] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(900):
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            headers, channel = await register_user(http, "probe")

            async def open_socket() -> Any:
                ticket = (await http.post("/api/v1/realtime/ticket", headers=headers)).json()
                ws = await websockets.connect(
                    f"ws://{HOST}:{port}/ws?ticket={ticket['ticket']}",
                    origin=Origin(ORIGIN),
                    max_queue=None,
                )
                await ws.recv()  # ready
                await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
                await ws.recv()  # subscribed
                return ws

            # Warm up (first-use caches, interned strings), then measure.
            sockets.extend([await open_socket() for _ in range(20)])
            await asyncio.sleep(1)
            before = await _snapshot(proc.pid, prefix, 0)
            sem = asyncio.Semaphore(20)

            async def one() -> Any:
                async with sem:
                    return await open_socket()

            sockets.extend(await asyncio.gather(*(one() for _ in range(args.sockets))))
            await asyncio.sleep(2)
            after = await _snapshot(proc.pid, prefix, 1)
        _report(before, after, args)
    finally:
        for ws in sockets:
            await ws.close()
        stop_pid(proc.pid, timeout=15, popen=proc)


def _report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, args: argparse.Namespace
) -> None:
    n = args.sockets
    by_file = after.compare_to(before, "filename")
    total = sum(s.size_diff for s in by_file)
    print(f"\n{n} idle subscribed sockets: {total / n / 1024:.2f} KiB per connection (traced)")
    print("by file (KiB per connection):")
    for stat in by_file[: args.top]:
        frame = stat.traceback[0]
        name = frame.filename.replace(str(ROOT) + "/", "")
        if "site-packages/" in name:
            name = name.split("site-packages/", 1)[1]
        print(f"  {stat.size_diff / n / 1024:7.2f}  {stat.count_diff / n:6.1f} blocks  {name}")
    print("\nby line (KiB per connection):")
    for stat in after.compare_to(before, "lineno")[: args.top]:
        frame = stat.traceback[0]
        name = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        size, count = stat.size_diff / n / 1024, stat.count_diff / n
        print(f"  {size:7.2f}  {count:6.1f} blocks  {name}:{frame.lineno}")
    print("\nby allocation site (KiB per connection, innermost frame first):")
    for stat in after.compare_to(before, "traceback")[: args.top]:
        print(f"  {stat.size_diff / n / 1024:7.2f}  {stat.count_diff / n:6.1f} blocks")
        for line in stat.traceback.format(limit=args.frames, most_recent_first=True)[::2]:
            print("      " + line.strip().replace(str(ROOT) + "/", ""))


async def _main(args: argparse.Namespace) -> None:
    from scripts.services_spawn import env_or_spawned_services

    with tempfile.TemporaryDirectory() as name, env_or_spawned_services(Path(name)) as urls:
        await _probe(args, *urls, Path(name))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(sys.argv[2:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--ws", default="", help="uvicorn `ws` instead of server.serve's")
    asyncio.run(_main(parser.parse_args()))
