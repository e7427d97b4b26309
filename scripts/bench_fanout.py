"""Fan-out benchmark: our gateway vs a minimal `websockets` broadcast server, same clients.

    .venv/bin/python -m scripts.bench_fanout [--clients 1000] [--events 50] [--idle 5000,10000]
        [--profile fanout.raw]

1. Starts throwaway services (SecantusDB, Redis) unless MONGODB_URL / REDIS_URL are set, our
   api (`uvicorn --factory server.app:create_app`) and the baseline: a bare `websockets`
   server whose `/publish` connection is broadcast to every other connection (no framework,
   no Redis). Both use uvloop; the clients run in this process, identical for both.
2. `--clients` WebSocket clients subscribe (ours: one user's channel; baseline: connected).
3. Latency phase: `--events` events, one at a time (the next once every client has the last);
   latency = client receive time - publish time (same clock); p50/p99 over all deliveries and
   the time until the last client has each event.
4. Throughput phase: `--events` events back to back; delivered messages per second.
5. Memory: RSS per idle connection with `--idle` connections open (ours: subscribed), opened
   in cumulative steps (5,000 then 10,000), and the p99 of ONE broadcast to all of them.
Both servers run without permessage-deflate (ours: `ApiProcess`, as in production; the
baseline: `compression=None`), so they send the same bytes (docs/realtime.md says why).
Prints ours, the baseline and the ratios (targets: p99 <= 1.25x, throughput >= 0.8x,
RSS <= 30 KB per idle connection).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://localhost:3000"


# ---------------------------------------------------------------- the baseline server


async def _baseline_server(port: int) -> None:
    import websockets
    from websockets.asyncio.server import serve

    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        if ws.request.path == "/publish":
            async for message in ws:
                websockets.broadcast(clients, message)
            return
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(
        handler, "127.0.0.1", port, max_queue=None, ping_interval=20, compression=None
    ):
        await asyncio.Future()


# ---------------------------------------------------------------- helpers


def _raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"port {port} not open")


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    last_client_ms: float  # mean over events of the time until the last client had it
    last_client_max_ms: float
    msgs_per_s: float
    delivered: int
    expected: int


class Clients:
    """N sockets; each records (seq, latency) for every event frame it receives."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.received: dict[int, list[float]] = {}
        self.counts: dict[int, int] = {}
        self.last_recv = 0.0

    def _record(self, raw: str | bytes) -> None:
        now = time.time()
        frame = json.loads(raw)
        if frame.get("type") != "event":
            return
        data = frame["event"]["data"]
        seq = data["seq"]
        self.received.setdefault(seq, []).append(now - data["sent"])
        self.counts[seq] = self.counts.get(seq, 0) + 1
        self.last_recv = now

    async def _reader(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                self._record(raw)

    def start(self, ws: Any) -> None:
        self.sockets.append(ws)
        self.tasks.append(asyncio.create_task(self._reader(ws)))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def _measure(
    clients: Clients,
    n: int,
    events: int,
    publish: Callable[[int], Awaitable[None]],
    publish_burst: Callable[[range], Awaitable[None]],
) -> Result:
    # Latency: one event at a time.
    for seq in range(events):
        await publish(seq)
        deadline = time.monotonic() + 10
        while clients.counts.get(seq, 0) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
    latencies = [lat for seq in range(events) for lat in clients.received.get(seq, [])]
    last = [max(clients.received.get(seq, [0.0])) for seq in range(events)]
    # Throughput: back to back.
    base = 10_000
    started = time.time()
    # Back to back, without waiting for each publish's answer: the baseline's publisher
    # writes its messages into one socket; ours pipelines the event scripts into Redis (one
    # round trip, as `EventBus.publish_many`), so the publisher's own round trips, taken in
    # this busy client process, do not pace the server.
    await publish_burst(range(base, base + events))
    deadline = time.monotonic() + 60
    while (
        sum(clients.counts.get(s, 0) for s in range(base, base + events)) < n * events
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.005)
    delivered = sum(clients.counts.get(s, 0) for s in range(base, base + events))
    elapsed = max(clients.last_recv - started, 1e-9)
    return Result(
        p50_ms=_pct(latencies, 0.50) * 1000,
        p99_ms=_pct(latencies, 0.99) * 1000,
        last_client_ms=statistics.mean(last) * 1000,
        last_client_max_ms=max(last) * 1000,
        msgs_per_s=delivered / elapsed,
        delivered=delivered + len(latencies),
        expected=2 * n * events,
    )


async def _idle_runs(
    sizes: list[int],
    open_socket: Callable[[], Awaitable[Any]],
    publish: Callable[[int], Awaitable[None]],
    rss: Callable[[], int],
) -> list[dict[str, float]]:
    """Idle connections opened in steps up to each of `sizes` (cumulative, so no step reuses
    memory freed by an earlier one): RSS per connection since the first step, then ONE
    broadcast to all of them (p99 and time to the last client)."""
    clients = Clients()
    await asyncio.sleep(1)
    before = rss()
    out: list[dict[str, float]] = []
    for size in sorted(sizes):
        more = size - len(clients.sockets)
        for ws in await _connect_many(more, open_socket):
            clients.start(ws)
        await asyncio.sleep(3)
        after = rss()
        seq = 20_000 + size
        await publish(seq)
        deadline = time.monotonic() + 30
        while clients.counts.get(seq, 0) < size and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        latencies = clients.received.get(seq, [0.0])
        out.append(
            {
                "idle": size,
                "rss_per_idle_kib": (after - before) / size,
                "rss_total_mib": after / 1024,
                "p99_ms": _pct(latencies, 0.99) * 1000,
                "last_ms": max(latencies) * 1000,
                "delivered": clients.counts.get(seq, 0),
            }
        )
        print(f"idle {size}: {out[-1]}", flush=True)
    await clients.close()
    return out


# ---------------------------------------------------------------- the two servers


async def _connect_many(count: int, make: Callable[[], Awaitable[Any]], parallel: int = 50) -> list:
    sem = asyncio.Semaphore(parallel)

    async def one() -> Any:
        async with sem:
            return await make()

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def bench_ours(args: argparse.Namespace, mongo_url: str, redis_url: str) -> dict[str, Any]:
    import httpx
    import websockets
    from redis.asyncio import Redis

    from realtime.bus import EventBus
    from scripts.api_process import FAST_HASHING, ApiProcess, api_env, register_user
    from scripts.profiling import py_spy

    env = api_env(
        mongo_url,
        redis_url,
        f"bench_{int(time.time())}",
        log_level="WARNING",
        ws_allowed_origins=ORIGIN,
        rate_limit_auth_per_ip_per_minute=100000,
        rate_limit_register_per_ip_per_hour=100000,
        **FAST_HASHING,
    )
    logs = ROOT / ".data" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    server = ApiProcess(env, log_path=logs / "api-fanout.log", port=args.port, log_level="warning")
    port = server.port
    redis = Redis.from_url(redis_url)
    try:
        base = server.base
        await server.wait_ready(90)
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            headers, channel = await register_user(http, "bench")

            async def new_ticket() -> str:
                for attempt in range(5):
                    try:
                        r = await http.post("/api/v1/realtime/ticket", headers=headers)
                        return str(r.json()["ticket"])
                    except httpx.TransportError:  # a keep-alive connection closed under us
                        await asyncio.sleep(0.1 * (attempt + 1))
                raise RuntimeError("no ticket")

            async def open_socket(subscribe: bool = True) -> Any:
                t = await new_ticket()
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/ws?ticket={t}", origin=ORIGIN, max_queue=None
                )
                await ws.recv()  # ready
                if subscribe:
                    await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
                    await ws.recv()  # subscribed
                return ws

            clients = Clients()
            for ws in await _connect_many(args.clients, open_socket):
                clients.start(ws)
            bus = EventBus(redis)

            async def publish(seq: int) -> None:
                await bus.publish(channel, "bench.tick", {"seq": seq, "sent": time.time()})

            async def publish_burst(seqs: range) -> None:
                ticks = [{"seq": seq, "sent": time.time()} for seq in seqs]
                await bus.publish_many([(channel, "bench.tick", tick) for tick in ticks])

            await asyncio.sleep(1)
            with py_spy(server.pid, args.profile):
                result = await _measure(clients, args.clients, args.events, publish, publish_burst)
            print("ours:", result, flush=True)
            await clients.close()
            await asyncio.sleep(2)

            idle = await _idle_runs(args.idle, open_socket, publish, server.rss_kib)
        return {"result": result, "idle": idle}
    finally:
        await redis.aclose()
        server.stop(timeout=30)


async def bench_baseline(args: argparse.Namespace) -> dict[str, Any]:
    import websockets

    port = args.port + 1
    server = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "scripts.bench_fanout", "--baseline-server", str(port)], cwd=ROOT
    )
    try:
        await _wait_port(port)
        url = f"ws://127.0.0.1:{port}/"

        async def open_socket() -> Any:
            return await websockets.connect(url, max_queue=None)

        clients = Clients()
        for ws in await _connect_many(args.clients, open_socket):
            clients.start(ws)
        publisher = await websockets.connect(f"ws://127.0.0.1:{port}/publish")

        async def publish(seq: int) -> None:
            data = {"seq": seq, "sent": time.time()}
            await publisher.send(json.dumps({"type": "event", "event": {"data": data}}))

        await asyncio.sleep(1)

        async def publish_burst(seqs: range) -> None:
            for seq in seqs:
                await publish(seq)

        result = await _measure(clients, args.clients, args.events, publish, publish_burst)
        await clients.close()
        await asyncio.sleep(2)
        idle = await _idle_runs(args.idle, open_socket, publish, lambda: _rss_kib(server.pid))
        await publisher.close()
        return {"result": result, "idle": idle}
    finally:
        server.terminate()
        server.wait(10)


def _report(ours: dict[str, Any], base: dict[str, Any], args: argparse.Namespace) -> None:
    o: Result = ours["result"]
    b: Result = base["result"]
    print(f"\nfan-out: {args.clients} clients x {args.events} events (2 CPUs, same client code)")
    print(f"{'':28}{'ours':>12}{'baseline':>12}{'ratio':>10}")
    rows = [
        ("latency p50 (ms)", o.p50_ms, b.p50_ms),
        ("latency p99 (ms)", o.p99_ms, b.p99_ms),
        ("to last client, mean (ms)", o.last_client_ms, b.last_client_ms),
        ("to last client, max (ms)", o.last_client_max_ms, b.last_client_max_ms),
        ("delivered msgs/s (burst)", o.msgs_per_s, b.msgs_per_s),
    ]
    for label, ov, bv in rows:
        print(f"{label:28}{ov:12.1f}{bv:12.1f}{ov / bv if bv else float('nan'):10.2f}")
    print(
        f"{'delivered / expected':28}{o.delivered:>6}/{o.expected:<5}{b.delivered:>6}/{b.expected}"
    )
    for oi, bi in zip(ours["idle"], base["idle"], strict=True):
        n = oi["idle"]
        print(f"idle connections: {n:,} (cumulative; one broadcast to all of them)")
        for label, key in (
            ("  RSS per idle conn (KiB)", "rss_per_idle_kib"),
            ("  RSS total (MiB)", "rss_total_mib"),
            ("  one broadcast p99 (ms)", "p99_ms"),
            ("  one broadcast, last (ms)", "last_ms"),
        ):
            ov, bv = oi[key], bi[key]
            print(f"{label:28}{ov:12.1f}{bv:12.1f}{ov / bv if bv else float('nan'):10.2f}")
        print(f"{'  delivered':28}{oi['delivered']:>12.0f}{bi['delivered']:>12.0f}")
    rss_ok = all(i["rss_per_idle_kib"] * 1.024 <= 30 for i in ours["idle"])
    print(
        f"targets: p99 <= 1.25x baseline: {o.p99_ms <= 1.25 * b.p99_ms}; "
        f"throughput >= 0.8x: {o.msgs_per_s >= 0.8 * b.msgs_per_s}; "
        f"RSS <= 30 KB/conn: {rss_ok}"
    )


async def main(args: argparse.Namespace) -> None:
    limit = _raise_fd_limit()
    needed = max(args.idle) + args.clients + 200
    if limit < needed:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {limit} < {needed}; lower --idle")
    from scripts.services_spawn import env_or_spawned_services

    with tempfile.TemporaryDirectory() as tmp, env_or_spawned_services(Path(tmp)) as urls:
        ours = await bench_ours(args, *urls)
        base = await bench_baseline(args)
    _report(ours, base, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument(
        "--idle",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[5000, 10000],
        help="idle connection counts, comma-separated (cumulative runs)",
    )
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy raw profile of ours, fan-out phase"
    )
    parser.add_argument("--baseline-server", type=int, default=0, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if parsed.baseline_server:
        asyncio.run(_baseline_server(parsed.baseline_server))
    else:
        asyncio.run(main(parsed))
