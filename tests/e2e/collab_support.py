"""Live-editing clients for the e2e tests: a pycrdt y-websocket client in Python and the
unmodified yjs + y-websocket client in Node (`tests/clients/yjs/editor.mjs`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import websockets
from pycrdt import Doc, Text
from pymongo import AsyncMongoClient
from websockets.asyncio.client import ClientConnection

from realtime.collab import protocol as p
from scripts.api_process import ApiProcess
from tests.clients.node_tools import node_or_skip, npm_client
from tests.e2e.realtime_support import ORIGIN, User, ticket

NOTES = "/api/v1/notes"


def collab_url(api: ApiProcess) -> str:
    return f"ws://127.0.0.1:{api.port}/ws/notes"


async def new_note(api: ApiProcess, user: User, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Shared")
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        r = await client.post(NOTES, json=body, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


async def get_note(api: ApiProcess, user: User, note_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        r = await client.get(f"{NOTES}/{note_id}", headers=user.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


async def wait_note(
    api: ApiProcess, user: User, note_id: str, pred: Callable[[dict[str, Any]], bool], timeout=15.0
) -> dict[str, Any]:
    """The note once `pred` holds (materialisation is debounced)."""
    deadline = time.monotonic() + timeout
    while True:
        note = await get_note(api, user, note_id)
        if pred(note) or time.monotonic() > deadline:
            return note
        await asyncio.sleep(0.2)


async def verify_email(mongo_url: str, db: str, username: str) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    try:
        await client[db]["users"].update_one(
            {"username": username}, {"$set": {"email_verified": True}}
        )
    finally:
        await client.close()


async def workspace_with(
    api: ApiProcess, owner: User, member: User, role: str, *, mongo_url: str, db: str
) -> tuple[str, str]:
    """A workspace of `owner` with `member` in `role`; returns (workspace id, its space id)."""
    for u in (owner, member):
        await verify_email(mongo_url, db, u.username)
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        r = await client.post("/api/v1/workspaces", json={"name": "Team"}, headers=owner.headers)
        assert r.status_code == 201, r.text
        wid = r.json()["id"]
        r = await client.post(
            f"/api/v1/workspaces/{wid}/invitations",
            json={"username": member.username, "role": role},
            headers=owner.headers,
        )
        assert r.status_code in (200, 201), r.text
        r = await client.post(
            f"/api/v1/invitations/{r.json()['id']}/accept", headers=member.headers
        )
        assert r.status_code == 200, r.text
        r = await client.get("/api/v1/spaces", headers=owner.headers)
        space = next(
            s for s in r.json()["items"] if s["kind"] == "workspace" and s["ownerId"] == wid
        )
        return wid, space["id"]


class PyEditor:
    """A y-websocket client on pycrdt: the sync handshake, updates, awareness, auth."""

    def __init__(self, ws: ClientConnection, doc: Doc | None = None) -> None:
        self.ws = ws
        self.doc: Doc = doc if doc is not None else Doc()
        self.body = self.doc.get("body", type=Text)
        self.synced = asyncio.Event()
        self.changed = asyncio.Event()
        self.denied: list[str] = []
        self.awareness: dict[int, str] = {}
        self.received: list[bytes] = []
        self.close_code: int | None = None
        self.updates_before_sync = 0
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, api: ApiProcess, user: User, note_id: str, *, doc: Doc | None = None
    ) -> PyEditor:
        """Connect and send sync step 1; `doc` reconnects an editor with its local edits."""
        t = await ticket(api.base, user)
        ws = await websockets.connect(
            f"{collab_url(api)}/{note_id}?ticket={t}",
            origin=ORIGIN,
            max_size=2**25,  # type: ignore[arg-type]
        )
        editor = cls(ws, doc)
        await ws.send(p.sync_step1(editor.doc.get_state()))
        return editor

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                assert isinstance(data, bytes)
                self.received.append(data)
                msg = _parse_server(data)
                if msg[0] == "step1":
                    await self.ws.send(p.sync_step2(self.doc.get_update(msg[1])))
                elif msg[0] in ("step2", "update"):
                    if msg[0] == "update" and not self.synced.is_set():
                        self.updates_before_sync += 1
                    self.doc.apply_update(msg[1])
                    if msg[0] == "step2":
                        self.synced.set()
                    self.changed.set()
                elif msg[0] == "awareness":
                    for e in p.parse_awareness(msg[1]):
                        if e.state == "null":
                            self.awareness.pop(e.client_id, None)
                        else:
                            self.awareness[e.client_id] = e.state
                    self.changed.set()
                elif msg[0] == "denied":
                    self.denied.append(msg[1].decode())
                    self.changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.changed.set()

    @property
    def text(self) -> str:
        return str(self.body)

    async def edit(self, fn: Callable[[Text], None]) -> bytes:
        before = self.doc.get_state()
        fn(self.body)
        update = self.doc.get_update(before)
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(p.sync_update(update))  # offline: kept locally, synced later
        return update

    async def insert(self, index: int, text: str) -> bytes:
        """`index` in characters (pycrdt counts UTF-8 bytes)."""
        at = len(self.text[:index].encode())
        return await self.edit(lambda t: t.insert(at, text))

    async def append(self, text: str) -> bytes:
        return await self.edit(lambda t: t.insert(len(t), text))

    async def set_awareness(self, state: dict[str, Any], clock: int = 1) -> None:
        entry = p.AwarenessEntry(self.doc.client_id, clock, json.dumps(state))
        await self.ws.send(p.awareness_message([entry]))

    async def wait(self, pred: Callable[[PyEditor], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))
        return True

    async def closed(self, timeout: float = 5.0) -> int | None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._task


def _parse_server(data: bytes) -> tuple[str, bytes]:
    r = p._Reader(data)
    kind = r.varuint()
    if kind == p.MSG_SYNC:
        sub = r.varuint()
        return {0: "step1", 1: "step2", 2: "update"}[sub], r.varbytes()
    if kind == p.MSG_AWARENESS:
        return "awareness", r.varbytes()
    if kind == p.MSG_AUTH:
        r.varuint()
        return "denied", r.varbytes()
    raise AssertionError(f"unexpected message type {kind}")


class NodeEditor:
    """`node editor.mjs` (yjs + y-websocket from the committed lockfile) driven over stdio."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, api: ApiProcess, user: User, note_id: str) -> NodeEditor:
        folder = npm_client("yjs")
        proc = await asyncio.create_subprocess_exec(
            node_or_skip(),
            "editor.mjs",
            api.base,
            collab_url(api),
            note_id,
            user.access,
            cwd=folder,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line)
                self.seen.append(event)
                await self.events.put(event)

    async def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, name: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {name!r} event; saw {self.seen[-5:]}: {await self._err()}"
                )
            try:
                event = await asyncio.wait_for(self.events.get(), left)
            except TimeoutError:
                continue
            if event.get("event") == name:
                return event

    async def _err(self) -> str:
        if self.proc.returncode is None or self.proc.stderr is None:
            return ""
        return (await self.proc.stderr.read()).decode()[-2000:]

    async def dump(self) -> dict[str, Any]:
        await self.send(op="dump")
        return await self.expect("dump")

    async def quit(self) -> None:
        with contextlib.suppress(Exception):
            await self.send(op="quit")
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._task.cancel()


def marker() -> str:
    return uuid.uuid4().hex[:6]
