"""Live-editing benchmark: our rooms (2 api processes, persisted, relayed through Redis)
against pycrdt-websocket's own `WebsocketServer` (one process, in memory), same clients.

    .venv/bin/python -m scripts.bench_collab [--editors 20] [--seconds 60] [--cps 10]

1. Starts throwaway SecantusDB and Redis (unless MONGODB_URL / REDIS_URL are set), two api
   processes (`scripts/api_process.py`) and the baseline: `pycrdt.websocket.ASGIServer`
   around a `WebsocketServer` under uvicorn.
2. `--editors` pycrdt y-websocket clients on one note (ours: alternately on the two
   processes) each type `--cps` characters/s for `--seconds`. Latency = the time from one
   client's send to another client applying that update (same clock: all clients live in
   this process; an update is recognised by its (client id, clock) in its state vector).
   p50/p99 over every delivery.
3. Memory: api RSS growth per loaded room (`--rooms` notes, one client each) and per idle
   client (`--idle` more clients on one note), ours and the baseline.
4. Load time of a note whose log has 10,000 one-character updates: the snapshot plus log
   read and applied as a room does, before and after compaction (median of 5).
Prints ours, the baseline and the ratios (target: p99 <= 1.5x baseline; load after
compaction <= 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from pycrdt import Doc, Text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from realtime.collab import protocol as p  # noqa: E402
from scripts.api_process import FAST_HASHING, ApiProcess, api_env  # noqa: E402
from scripts.services_base import HOST, free_port  # noqa: E402

ORIGIN = "http://localhost:3000"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _state_pairs(sv: bytes) -> list[tuple[int, int]]:
    r = p._Reader(sv)
    return [(r.varuint(), r.varuint()) for _ in range(r.varuint())]


def _first_struct(update: bytes) -> tuple[int, int] | None:
    """(client id, start clock) of an update's first struct block (lib0 update v1)."""
    r = p._Reader(update)
    if r.varuint() == 0:
        return None
    r.varuint()  # structs of this client
    return r.varuint(), r.varuint()


class Editor:
    """A pycrdt y-websocket client that types and timestamps what it receives."""

    sent: dict[tuple[int, int], float] = {}

    def __init__(self, ws: Any, latencies: list[float]) -> None:
        self.ws = ws
        self.doc: Doc = Doc()
        self.text = self.doc.get("body", type=Text)
        self.synced = asyncio.Event()
        self.latencies = latencies
        self.measuring = False
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, latencies: list[float]) -> Editor:
        for attempt in range(5):  # the baseline server drops a handshake now and then
            try:
                ws = await websockets.connect(url, origin=ORIGIN, max_size=2**24)  # type: ignore[arg-type]
                break
            except (OSError, websockets.InvalidMessage):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2)
        editor = cls(ws, latencies)
        await ws.send(p.sync_step1(editor.doc.get_state()))
        return editor

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in self.ws:
                kind = data[0]
                if kind != p.MSG_SYNC:
                    continue
                r = p._Reader(data)
                r.varuint()
                sub = r.varuint()
                payload = r.varbytes()
                if sub == p.SYNC_STEP1:
                    await self.ws.send(p.sync_step2(self.doc.get_update(payload)))
                    continue
                self.doc.apply_update(payload)
                if sub == p.SYNC_STEP2:
                    self.synced.set()
                elif self.measuring:
                    now = time.perf_counter()
                    key = _first_struct(payload)
                    mine = key is not None and key[0] == self.doc.client_id  # an echo
                    sent = Editor.sent.get(key) if key is not None and not mine else None
                    if sent is not None:
                        self.latencies.append(now - sent)

    async def type(self, seconds: float, cps: float) -> None:
        interval = 1.0 / cps
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        cid = self.doc.client_id
        while time.perf_counter() < deadline:
            before = self.doc.get_state()
            clock = dict(_state_pairs(before)).get(cid, 0)
            self.text.insert(len(self.text), "x")
            update = self.doc.get_update(before)
            Editor.sent[(cid, clock)] = time.perf_counter()
            await self.ws.send(p.sync_update(update))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self.task


async def _session(urls: list[str], seconds: float, cps: float) -> tuple[list[float], int]:
    Editor.sent = {}
    latencies: list[float] = []
    editors = [await Editor.open(u, latencies) for u in urls]
    await asyncio.wait_for(asyncio.gather(*(e.synced.wait() for e in editors)), 60)
    for e in editors:
        e.measuring = True
    await asyncio.gather(*(e.type(seconds, cps) for e in editors))
    await asyncio.sleep(2.0)
    lengths = {len(str(e.text)) for e in editors}
    for e in editors:
        await e.close()
    return latencies, len(lengths)


async def _rss_growth(api_rss: Any, urls_for: Any, n: int) -> float:
    """KiB of RSS per socket for `n` sockets opened from `urls_for(i)`."""
    before = api_rss()
    editors = [await Editor.open(urls_for(i), []) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*(e.synced.wait() for e in editors)), 120)
    await asyncio.sleep(1.0)
    grown = (api_rss() - before) / n
    for e in editors:
        await e.close()
    return grown


# ---------------------------------------------------------------- ours


async def _login(base: str) -> tuple[dict[str, str], str]:
    from tests import helpers

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        body = await helpers.register(client)
        headers = {"Authorization": f"Bearer {body['accessToken']}"}
        r = await client.post("/api/v1/notes", json={"title": "bench"}, headers=headers)
        r.raise_for_status()
        return headers, r.json()["id"]


async def _tickets(base: str, headers: dict[str, str], n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        out = []
        for _ in range(n):
            r = await client.post("/api/v1/realtime/ticket", headers=headers)
            r.raise_for_status()
            out.append(r.json()["ticket"])
        return out


async def _new_notes(base: str, headers: dict[str, str], n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        ids = []
        for i in range(n):
            r = await client.post("/api/v1/notes", json={"title": f"n{i}"}, headers=headers)
            r.raise_for_status()
            ids.append(r.json()["id"])
        return ids


async def bench_ours(args: argparse.Namespace, mongo_url: str, redis_url: str, tmp: Path) -> dict:
    settings: dict[str, object] = {
        **FAST_HASHING,
        "environment": "test",
        "log_level": "WARNING",
        "rate_limit_register_per_ip_per_hour": 100_000,
        "rate_limit_auth_per_ip_per_minute": 100_000,
        "ws_allowed_origins": ORIGIN,
    }
    env = api_env(mongo_url, redis_url, "bench_collab", **settings)
    with (
        ApiProcess(env, log_path=tmp / "api1.log") as a1,
        ApiProcess(env, log_path=tmp / "api2.log") as a2,
    ):
        await a1.wait_ready()
        await a2.wait_ready()
        apis = [a1, a2]
        headers, note = await _login(a1.base)
        tickets = [await _tickets(a.base, headers, args.editors) for a in apis]
        urls = [
            f"ws://{HOST}:{apis[i % 2].port}/ws/notes/{note}?ticket={tickets[i % 2][i // 2]}"
            for i in range(args.editors)
        ]
        latencies, distinct = await _session(urls, args.seconds, args.cps)
        notes = await _new_notes(a1.base, headers, args.rooms)
        t_rooms = await _tickets(a1.base, headers, args.rooms)
        per_room = await _rss_growth(
            a1.rss_kib,
            lambda i: f"ws://{HOST}:{a1.port}/ws/notes/{notes[i]}?ticket={t_rooms[i]}",
            args.rooms,
        )
        t_idle = await _tickets(a1.base, headers, args.idle + 1)
        keep = await Editor.open(f"ws://{HOST}:{a1.port}/ws/notes/{note}?ticket={t_idle[-1]}", [])
        await keep.synced.wait()
        per_client = await _rss_growth(
            a1.rss_kib,
            lambda i: f"ws://{HOST}:{a1.port}/ws/notes/{note}?ticket={t_idle[i]}",
            args.idle,
        )
        await keep.close()
    return {
        "latencies": latencies,
        "converged": distinct == 1,
        "rss_room": per_room,
        "rss_client": per_client,
    }


# ---------------------------------------------------------------- the baseline


async def _baseline_server(port: int) -> None:
    import uvicorn
    from pycrdt.websocket import ASGIServer, WebsocketServer

    server = WebsocketServer()
    async with server:
        config = uvicorn.Config(
            ASGIServer(server), host=HOST, port=port, log_level="warning", lifespan="off"
        )
        await uvicorn.Server(config).serve()


def _rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.asynccontextmanager
async def _baseline_process() -> Any:
    """A fresh baseline server (pycrdt-websocket's task group ends the whole server when
    one of its rooms fails on a closing client, so each phase gets its own)."""
    import subprocess

    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 (started before anything is measured)
        [sys.executable, "-m", "scripts.bench_collab", "--baseline-server", str(port)], cwd=ROOT
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection(HOST, port)
                w.close()
                break
            await asyncio.sleep(0.1)
        yield f"ws://{HOST}:{port}", proc.pid
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


async def bench_baseline(args: argparse.Namespace) -> dict:
    async with _baseline_process() as (base, _):
        urls = [f"{base}/bench-note" for _ in range(args.editors)]
        latencies, distinct = await _session(urls, args.seconds, args.cps)
    per_room = per_client = float("nan")
    try:
        async with _baseline_process() as (base, pid):
            per_room = await _rss_growth(
                lambda: _rss_of(pid), lambda i: f"{base}/room-{i}", args.rooms
            )
        async with _baseline_process() as (base, pid):
            keep = await Editor.open(f"{base}/idle-note", [])
            await keep.synced.wait()
            per_client = await _rss_growth(
                lambda: _rss_of(pid), lambda i: f"{base}/idle-note", args.idle
            )
            await keep.close()
    except Exception as exc:  # the baseline's memory figures are optional
        print(f"baseline RSS phase failed: {exc!r}", file=sys.stderr)
    return {
        "latencies": latencies,
        "converged": distinct == 1,
        "rss_room": per_room,
        "rss_client": per_client,
    }


# ---------------------------------------------------------------- load time


async def bench_load(mongo_url: str, updates: int) -> tuple[float, float]:
    """Median ms to load a note with `updates` log entries, before and after compaction."""
    from bson import ObjectId

    from realtime.collab.documents import COLLAB_DOCUMENT_MODELS
    from realtime.collab.room import seed_state
    from realtime.collab.store import CollabStore
    from server.core.db import init_db, make_client

    client = make_client(mongo_url)
    await init_db(client, "bench_collab_load", COLLAB_DOCUMENT_MODELS)
    store = CollabStore()
    note = ObjectId()
    await store.seed(note, seed_state("t", ""))
    doc: Doc = Doc()
    text = doc.get("body", type=Text)
    batch: list[bytes] = []
    for _ in range(updates):
        before = doc.get_state()
        text.insert(len(text), "x")
        batch.append(doc.get_update(before))
        if len(batch) == 1000:
            await store.append(note, batch)
            batch = []
    if batch:
        await store.append(note, batch)

    async def load_ms() -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            loaded = await store.load(note)
            d: Doc = Doc()
            if loaded.snapshot is not None:
                d.apply_update(loaded.snapshot)
            for u in loaded.updates:
                d.apply_update(u)
            assert len(str(d.get("body", type=Text))) == updates
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    before_ms = await load_ms()
    await store.compact(note)
    after_ms = await load_ms()
    await client.drop_database("bench_collab_load")
    await client.close()
    return before_ms, after_ms


# ---------------------------------------------------------------- main


def _report(ours: dict, base: dict, load: tuple[float, float], args: argparse.Namespace) -> None:
    o50, o99 = _pct(ours["latencies"], 0.5) * 1000, _pct(ours["latencies"], 0.99) * 1000
    b50, b99 = _pct(base["latencies"], 0.5) * 1000, _pct(base["latencies"], 0.99) * 1000
    print(
        f"\n{args.editors} editors x {args.cps} chars/s x {args.seconds} s "
        f"(ours: 2 api processes, persisted + Redis relay; baseline: pycrdt-websocket, 1 process)"
    )
    print(f"{'':28}{'ours':>12}{'baseline':>12}{'ratio':>10}")
    print(f"{'update latency p50 (ms)':28}{o50:12.2f}{b50:12.2f}{o50 / b50:10.2f}")
    print(f"{'update latency p99 (ms)':28}{o99:12.2f}{b99:12.2f}{o99 / b99:10.2f}")
    print(f"{'deliveries':28}{len(ours['latencies']):12d}{len(base['latencies']):12d}")
    print(f"{'all copies converged':28}{ours['converged']!s:>12}{base['converged']!s:>12}")
    print(f"{'RSS per loaded room (KiB)':28}{ours['rss_room']:12.1f}{base['rss_room']:12.1f}")
    print(f"{'RSS per idle client (KiB)':28}{ours['rss_client']:12.1f}{base['rss_client']:12.1f}")
    print(
        f"load {args.log_updates} logged updates: {load[0]:.1f} ms before compaction, "
        f"{load[1]:.1f} ms after"
    )
    print(
        f"targets: p99 <= 1.5x baseline: {o99 <= 1.5 * b99}; "
        f"load after compaction <= 200 ms: {load[1] <= 200}"
    )


async def main(args: argparse.Namespace) -> None:
    from scripts.services_spawn import env_or_spawned_services

    with tempfile.TemporaryDirectory() as tmpdir, env_or_spawned_services(Path(tmpdir)) as urls:
        tmp = Path(tmpdir)
        mongo_url, redis_url = urls
        ours = await bench_ours(args, mongo_url, redis_url, tmp)
        lat = ours["latencies"]
        print(
            f"ours: p50 {_pct(lat, 0.5) * 1000:.2f} ms, p99 {_pct(lat, 0.99) * 1000:.2f} ms",
            flush=True,
        )
        base = await bench_baseline(args)
        load = await bench_load(mongo_url, args.log_updates)
    _report(ours, base, load, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--editors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cps", type=float, default=10.0)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--log-updates", type=int, default=10_000)
    parser.add_argument("--baseline-server", type=int, default=0, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.baseline_server:
        asyncio.run(_baseline_server(parsed.baseline_server))
    else:
        asyncio.run(main(parsed))
