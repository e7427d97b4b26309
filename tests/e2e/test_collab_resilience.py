"""What live editing must survive: offline editors, a process killed with `kill -9`, a
1 MB paste, malformed frames, every process gone; and the rooms it must free."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from realtime.collab import protocol as p
from tests.e2e.collab_support import NodeEditor, PyEditor, new_note, wait_note
from tests.e2e.realtime_support import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = {"collab_materialise_idle_seconds": 0.3}


async def _log(mongo_url: str, db: str, note_id: str) -> tuple[int, dict | None]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        nid = ObjectId(note_id)
        count = await client[db]["collab_updates"].count_documents({"note_id": nid})
        snap = await client[db]["collab_snapshots"].find_one({"_id": nid}, {"state": 0})
        return count, snap
    finally:
        await client.close()


async def _rooms_loaded(api) -> float:
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("second_brain_collab_rooms "):
            return float(line.split()[1])
    raise AssertionError("no second_brain_collab_rooms in /metrics")


async def test_an_editor_offline_for_100_edits_reconnects_and_merges(apis):
    """pycrdt-websocket #81: offline edits were not propagated. A Node editor makes 100 edits
    offline while a Python editor on another process types; after reconnecting, every
    copy and the materialised note hold all of both."""
    api1 = await apis.start(**FAST)
    api2 = await apis.start(**FAST)
    user = await register(api1.base)
    note = await new_note(api1, user, body="")
    node = await NodeEditor.open(api1, user, note["id"])
    py = await PyEditor.open(api2, user, note["id"])
    try:
        await node.expect("synced")
        assert await py.wait(lambda e: e.synced.is_set())
        await node.send(op="offline")
        await node.expect("offline")
        await node.send(op="type", text="n" * 100, index=0)
        for _ in range(20):
            await py.append("p")
        await node.send(op="online")
        await node.expect("synced")
        assert await py.wait(lambda e: len(e.text) == 120), py.text
        assert sorted(py.text) == sorted("n" * 100 + "p" * 20)
        await node.send(op="wait", text=py.text)
        assert (await node.expect("waited"))["ok"]
        final = py.text
        note_now = await wait_note(api1, user, note["id"], lambda n: n["body"] == final)
        assert note_now["body"] == final
    finally:
        await node.quit()
        await py.close()


async def test_kill_9_mid_typing_loses_nothing_acknowledged(apis, mongo_url):
    """Every update another editor saw was stored first: after `kill -9` of the writer's
    process the document reloads with all of it, the writer reconnects elsewhere and its
    unacknowledged tail merges, and a process started after every other one died loads
    exactly that text."""
    api1 = await apis.start()
    api2 = await apis.start()
    user = await register(api1.base)
    note = await new_note(api1, user, body="")
    writer = await PyEditor.open(api1, user, note["id"])
    watcher = await PyEditor.open(api2, user, note["id"])
    assert await writer.wait(lambda e: e.synced.is_set())
    assert await watcher.wait(lambda e: e.synced.is_set())
    typed = ""
    for i in range(150):
        ch = chr(ord("a") + i % 26)
        typed += ch
        await writer.append(ch)
        if i == 100:
            assert await watcher.wait(lambda e: len(e.text) >= 50)
            api1.kill()
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.5)
    seen = watcher.text
    assert len(seen) >= 50 and typed.startswith(seen)
    await watcher.close()
    await writer.closed()
    # A fresh load (the room was unloaded with its last socket) from MongoDB only.
    fresh = await PyEditor.open(api2, user, note["id"])
    assert await fresh.wait(lambda e: e.synced.is_set())
    assert fresh.text.startswith(seen) and typed.startswith(fresh.text)
    await fresh.close()
    # The writer comes back (to the surviving process) with everything it typed.
    back = await PyEditor.open(api2, user, note["id"], doc=writer.doc)
    assert await back.wait(lambda e: e.synced.is_set())
    await asyncio.sleep(0.3)
    await back.close()
    api2.kill()
    api3 = await apis.start()
    last = await PyEditor.open(api3, user, note["id"])
    assert await last.wait(lambda e: e.synced.is_set() and e.text == typed), last.text
    await last.close()


async def test_a_1_mb_paste_reaches_the_other_process_and_the_note(apis):
    api1 = await apis.start(**FAST)
    api2 = await apis.start(**FAST)
    user = await register(api1.base)
    note = await new_note(api1, user, body="")
    a = await PyEditor.open(api1, user, note["id"])
    b = await PyEditor.open(api2, user, note["id"])
    try:
        assert await a.wait(lambda e: e.synced.is_set())
        assert await b.wait(lambda e: e.synced.is_set())
        paste = ("0123456789abcdef" * 62_500)[:1_000_000]
        await a.append(paste)
        assert await b.wait(lambda e: len(e.text) == 1_000_000, timeout=30)
        assert b.text == paste
        n = await wait_note(api2, user, note["id"], lambda n: len(n["body"]) == 1_000_000, 30)
        assert n["body"] == paste
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00\x02\x05ab",  # a length past the end
        p.sync_update(b"\x01\x02garbage"),  # framed right, the update does not decode
        b"\x07\x00",  # unknown message type
        "a text frame",
    ],
)
async def test_malformed_frames_close_4400_and_leave_the_document_intact(apis, frame):
    api = await apis.start()
    user = await register(api.base)
    note = await new_note(api, user, body="intact")
    good = await PyEditor.open(api, user, note["id"])
    bad = await PyEditor.open(api, user, note["id"])
    try:
        assert await bad.wait(lambda e: e.synced.is_set())
        await bad.ws.send(frame)
        assert await bad.closed() == p.CLOSE_MALFORMED
        await good.append("!")
        fresh = await PyEditor.open(api, user, note["id"])
        assert await fresh.wait(lambda e: e.text == "intact!")
        await fresh.close()
        assert good.close_code is None
    finally:
        await good.close()


async def test_rooms_are_unloaded_and_logs_compacted(apis, mongo_url):
    """pycrdt-websocket PR #94 / jupyter-server-documents #192: rooms and clients were never
    freed. With its last socket gone the room leaves memory, its log is folded into the
    snapshot, and the next load is the same text."""
    api = await apis.start(collab_compact_after=20)
    user = await register(api.base)
    note = await new_note(api, user, body="")
    editors = [await PyEditor.open(api, user, note["id"]) for _ in range(3)]
    for e in editors:
        assert await e.wait(lambda x: x.synced.is_set())
    assert await _rooms_loaded(api) == 1.0
    for i in range(50):
        await editors[i % 3].append(str(i % 10))
    assert await editors[0].wait(lambda e: len(e.text) == 50)
    text = editors[0].text
    for e in editors:
        await e.close()
    for _ in range(100):
        count, snap = await _log(mongo_url, apis.db, note["id"])
        if await _rooms_loaded(api) == 0.0 and count == 0:
            break
        await asyncio.sleep(0.1)
    assert await _rooms_loaded(api) == 0.0
    assert count == 0 and snap is not None and snap["version"] >= 1 and snap["updates"] >= 50
    again = await PyEditor.open(api, user, note["id"])
    assert await again.wait(lambda e: e.synced.is_set() and e.text == text)
    await again.close()
