"""Notes throughput and p95: the api against the same operations in raw PyMongo, same run.

One throwaway SecantusDB and Redis (started here), the api as one uvicorn worker
(`scripts/api_process.py`), the same concurrency on both sides:

- **create** `POST /api/v1/notes` against a raw transaction doing what a create stores:
  the space's quota counters (conditional `$inc`), the note, its first revision.
- **update** `PATCH /api/v1/notes/{id}` (`baseVersion`) against a raw transaction: the
  compare-and-set on `version`, the new revision, the byte counter.
- **get** `GET /api/v1/notes/{id}` against a raw `find_one` by id.

The raw side writes to its own collections (with the notes' indexes) in the same database.
The api side is loaded by a small keep-alive HTTP/1.1 client (no httpx in the hot loop),
each task on its own connection and its own notes, so there are no version conflicts.
Then a generated vault of `--vault-notes` notes (nested folders, front matter, wikilinks)
is uploaded and imported by a real SAQ worker process: notes/s from upload to `completed`.

    .venv/bin/python scripts/bench_notes.py [--ops 400] [--concurrency 8] [--vault-notes 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import AsyncMongoClient, ReturnDocument

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.api_process import FAST_HASHING, ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402
from scripts.services_base import popen_logged, stop_pid  # noqa: E402

BODY = "Some text about the topic, with a [[Link target]] and #bench.\n" * 8
DB = "bench_notes"


@dataclass
class Result:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else 0.0


async def run_tasks(
    concurrency: int, per_task: int, op: Callable[[int, int], Awaitable[None]]
) -> Result:
    """`concurrency` tasks, each running `op(task, i)` `per_task` times; timed per call."""
    result = Result()

    async def task(t: int) -> None:
        for i in range(per_task):
            started = time.perf_counter()
            await op(t, i)
            result.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(task(t) for t in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------- the api side


class Connection:
    """One keep-alive HTTP/1.1 connection sending JSON requests (status checked)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        try:
            return await self._request(method, path, body, expect)
        except (ConnectionError, IndexError, asyncio.IncompleteReadError):
            # uvicorn closes a connection idle past its keep-alive (5 s), e.g. a task that
            # waited for the others between phases: reconnect once.
            self.close()
            self.writer = None
            return await self._request(method, path, body, expect)

    async def _request(self, method: str, path: str, body: Any, expect: int) -> Any:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Length: {len(data)}\r\n"
            + ("Content-Type: application/json\r\n" if body is not None else "")
            + "\r\n"
        )
        self.writer.write(head.encode() + data)
        status = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        payload = await self.reader.readexactly(length)
        if int(status.split()[1]) != expect:
            raise RuntimeError(f"{method} {path}: {status!r} {payload[:300]!r}")
        return json.loads(payload) if payload else None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def api_ops(
    api: ApiProcess, token: str, concurrency: int, per_task: int
) -> dict[str, Result]:
    url = httpx.URL(api.base)
    conns = [Connection(url.host, url.port or 80, token) for _ in range(concurrency)]
    notes: list[list[dict[str, Any]]] = [[] for _ in range(concurrency)]

    async def create(t: int, i: int) -> None:
        note = await conns[t].request(
            "POST",
            "/api/v1/notes",
            {"title": f"api {t}-{i}", "body": BODY, "tags": ["bench", f"t{t}"]},
            expect=201,
        )
        notes[t].append({"id": note["id"], "version": note["version"]})

    async def update(t: int, i: int) -> None:
        note = notes[t][i]
        got = await conns[t].request(
            "PATCH",
            f"/api/v1/notes/{note['id']}",
            {"body": BODY + f"edit {i}\n", "baseVersion": note["version"]},
        )
        note["version"] = got["version"]

    async def get(t: int, i: int) -> None:
        await conns[t].request("GET", f"/api/v1/notes/{notes[t][i % len(notes[t])]['id']}")

    try:
        out = {"create": await run_tasks(concurrency, per_task, create)}
        out["update"] = await run_tasks(concurrency, per_task, update)
        out["get"] = await run_tasks(concurrency, per_task, get)
        return out
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------------- the raw side


async def raw_ops(mongo_url: str, concurrency: int, per_task: int) -> dict[str, Result]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[DB]
    notes, revisions, spaces = db.raw_notes, db.raw_note_revisions, db.raw_spaces
    for name, collection in (("notes", notes), ("note_revisions", revisions)):
        async for index in await db[name].list_indexes():
            if index["name"] != "_id_":
                await collection.create_index(
                    list(index["key"].items()),
                    name=index["name"],
                    unique=index.get("unique", False),
                )
    space_id = (await spaces.insert_one({"note_count": 0, "bytes_used": 0})).inserted_id
    user = ObjectId()
    ids: list[list[ObjectId]] = [[] for _ in range(concurrency)]
    versions: dict[ObjectId, int] = {}

    async def create(t: int, i: int) -> None:
        now = datetime.now(UTC)
        title = f"raw {t}-{i}"
        doc = {
            "space_id": space_id,
            "title": title,
            "title_key": title.lower(),
            "body": BODY,
            "tags": ["bench", f"t{t}"],
            "own_tags": ["bench", f"t{t}"],
            "link_keys": ["t:link target"],
            "version": 1,
            "size": len(title) + len(BODY),
            "author_id": user,
            "updated_by": user,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }

        async def work(session: Any) -> ObjectId:
            doc.pop("_id", None)
            await spaces.update_one(
                {"_id": space_id, "note_count": {"$lte": 10**9}},
                {"$inc": {"note_count": 1, "bytes_used": doc["size"]}},
                session=session,
            )
            nid: ObjectId = (await notes.insert_one(doc, session=session)).inserted_id
            await revisions.insert_one(
                {"note_id": nid, "version": 1, "title": title, "body": BODY, "created_at": now},
                session=session,
            )
            return nid

        async with client.start_session() as session:
            nid = await session.with_transaction(work)
        ids[t].append(nid)
        versions[nid] = 1

    async def update(t: int, i: int) -> None:
        nid = ids[t][i]
        body = BODY + f"edit {i}\n"

        async def work(session: Any) -> dict[str, Any]:
            raw = await notes.find_one_and_update(
                {"_id": nid, "version": versions[nid], "deleted_at": None},
                {"$set": {"body": body, "updated_at": datetime.now(UTC)}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            assert raw is not None
            await spaces.update_one(
                {"_id": space_id}, {"$inc": {"bytes_used": len(body) - len(BODY)}}, session=session
            )
            await revisions.insert_one(
                {"note_id": nid, "version": raw["version"], "title": raw["title"], "body": body},
                session=session,
            )
            return raw

        async with client.start_session() as session:
            raw = await session.with_transaction(work)
        versions[nid] = raw["version"]

    async def get(t: int, i: int) -> None:
        assert await notes.find_one({"_id": ids[t][i % len(ids[t])]}) is not None

    try:
        out = {"create": await run_tasks(concurrency, per_task, create)}
        out["update"] = await run_tasks(concurrency, per_task, update)
        out["get"] = await run_tasks(concurrency, per_task, get)
        return out
    finally:
        await client.close()


# ---------------------------------------------------------------------- the vault import


def vault(notes: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(notes):
            folder = ["", "projects/", "projects/alpha/", "journal/2024/"][i % 4]
            front = f"---\ntitle: Note {i}\ntags: [vault, group{i % 3}]\naliases: [n{i}]\n---\n"
            body = (
                f"# Note {i}\n\nSee [[Note {(i + 1) % notes}]] and "
                f"[[Note {(i + 7) % notes}|later]].\n\n" + "Some text #topic.\n" * 5
            )
            archive.writestr(f"Vault/{folder}note-{i}.md", front + body)
    return out.getvalue()


def import_vault(api: ApiProcess, token: str, notes: int, timeout: float) -> tuple[float, Any]:
    data = vault(notes)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    job = httpx.post(
        f"{api.base}/api/v1/spaces/personal/imports",
        files={"file": ("vault.zip", data, "application/zip")},
        headers=headers,
        timeout=120,
    ).json()
    if "id" not in job:
        raise RuntimeError(f"import refused: {job}")
    shown = 0.0
    while time.perf_counter() - started < timeout:
        answer = httpx.get(f"{api.base}/api/v1/imports/{job['id']}", headers=headers)
        state = answer.json()
        if answer.status_code != 200:
            raise RuntimeError(f"import status: {answer.status_code} {state}")
        if state["status"] in ("completed", "failed"):
            return time.perf_counter() - started, state
        if time.perf_counter() - shown > 30:  # partial progress, for runs cut short
            shown = time.perf_counter()
            print(f"  import: {state['done']}/{state['total']} after {shown - started:.0f} s")
        time.sleep(0.5)
    raise RuntimeError(f"import not done after {timeout:.0f} s: {state}")


# ---------------------------------------------------------------------- main


def register(api: ApiProcess, name: str) -> str:
    reg = httpx.post(
        f"{api.base}/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "a measured phrase"},
        timeout=30,
    ).json()
    if "accessToken" not in reg:
        raise RuntimeError(f"registration failed: {reg}")
    return str(reg["accessToken"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=400, help="operations of each kind per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--vault-notes", type=int, default=2000)
    parser.add_argument("--import-timeout", type=float, default=1800)
    args = parser.parse_args()
    per_task = max(1, args.ops // args.concurrency)

    with tempfile.TemporaryDirectory(prefix="bench-notes-") as tmp:
        logs = ROOT / ".data" / "bench"
        logs.mkdir(parents=True, exist_ok=True)
        mongo = spawn_mongo(Path(tmp) / "mongo")
        redis = spawn_redis(Path(tmp) / "redis")
        env = api_env(
            mongo.url,
            redis.url,
            DB,
            environment="development",
            log_level=os.environ.get("LOG_LEVEL", "WARNING"),
            rate_limit_auth_per_ip_per_minute=1_000_000_000,
            rate_limit_auth_per_account_per_minute=1_000_000_000,
            access_token_ttl_seconds=24 * 3600,  # a slow import outlives the default 15 min
            **FAST_HASHING,
        )
        api = ApiProcess(env, log_path=logs / "api-notes.log", extra_args=["--workers", "1"])
        worker = None
        try:
            api.wait_ready_sync()
            token = register(api, "bench")
            # Warm-up (connections, indexes, caches) on both sides, not measured.
            asyncio.run(api_ops(api, token, 2, 5))
            asyncio.run(raw_ops(mongo.url, 2, 5))
            ours = asyncio.run(api_ops(api, token, args.concurrency, per_task))
            base = asyncio.run(raw_ops(mongo.url, args.concurrency, per_task))
            print(f"{args.concurrency} concurrent tasks, {per_task * args.concurrency} ops each")
            print(f"{'op':8}{'api/s':>9}{'p95 ms':>9}{'raw/s':>9}{'p95 ms':>9}{'ratio':>8}")
            targets = {"create": 0.5, "update": 0.5, "get": 0.7}
            for op, target in targets.items():
                o, b = ours[op], base[op]
                print(
                    f"{op:8}{o.rate:9.1f}{o.p95_ms:9.1f}{b.rate:9.1f}{b.p95_ms:9.1f}"
                    f"{o.rate / b.rate:8.2f}  (target >= {target})"
                )
            if args.vault_notes:
                worker = popen_logged(
                    [str(Path(sys.executable).parent / "litestar"), "--app",
                     "server.app:create_app", "workers", "run"],
                    logs / "worker-notes.log", ROOT, die_with_parent=True, env=env,
                )  # fmt: skip
                importer = register(api, "importer")
                seconds, state = import_vault(api, importer, args.vault_notes, args.import_timeout)
                print(
                    f"import of a {args.vault_notes}-note vault: {seconds:.1f} s, "
                    f"{args.vault_notes / seconds:.1f} notes/s "
                    f"(status {state['status']}, created {state['created']}, "
                    f"failed {state['failed']})"
                )
        finally:
            if worker is not None:
                stop_pid(worker.pid, timeout=15, popen=worker)
            api.stop()
            mongo.stop()
            redis.stop()


if __name__ == "__main__":
    main()
