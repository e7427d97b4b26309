"""Live co-editing through real api processes with real clients: yjs + y-websocket in Node
and pycrdt in Python, on one note, through one or two processes."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from realtime.collab.protocol import sync_step1
from tests.e2e.collab_support import NodeEditor, PyEditor, collab_url, new_note, wait_note
from tests.e2e.realtime_support import ORIGIN, register, ticket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = {"collab_materialise_idle_seconds": 0.3}


async def test_node_and_python_clients_converge_and_the_note_follows(apis):
    """Concurrent inserts at the same position from a Node and a Python client, each on its
    own api process, converge to one text on both clients and in the materialised note."""
    api1 = await apis.start(**FAST)
    api2 = await apis.start(**FAST)
    user = await register(api1.base)
    note = await new_note(api1, user, title="Plan", body="base")
    node = await NodeEditor.open(api1, user, note["id"])
    py = await PyEditor.open(api2, user, note["id"])
    try:
        synced = await node.expect("synced")
        assert synced["body"] == "base"
        assert await py.wait(lambda e: e.synced.is_set() and e.text == "base")
        await node.send(op="insert", index=0, text="NODE-")
        await py.insert(0, "PY-")
        # Both orders are possible; every copy picks the same one.
        want = {"NODE-PY-base", "PY-NODE-base"}
        assert await py.wait(lambda e: e.text in want), py.text
        await node.send(op="wait", text=py.text)
        waited = await node.expect("waited")
        assert waited["ok"], (waited, py.text)
        final = py.text
        materialised = await wait_note(api2, user, note["id"], lambda n: n["body"] == final)
        assert materialised["body"] == final
        assert materialised["version"] > note["version"]
    finally:
        await node.quit()
        await py.close()


async def test_no_update_reaches_a_client_before_its_sync_step2(apis):
    """pycrdt-websocket PR #138: updates were broadcast to a client before its sync
    handshake finished (yjs throws "Unexpected case"). A client that never sends sync
    step 1 must receive no update while another client types."""
    api = await apis.start()
    user = await register(api.base)
    note = await new_note(api, user, body="x")
    writer = await PyEditor.open(api, user, note["id"])
    assert await writer.wait(lambda e: e.synced.is_set())
    silent = await _open_without_step1(api, user, note["id"])
    try:
        for i in range(5):
            await writer.append(str(i))
        await asyncio.sleep(0.5)
        assert silent.updates_before_sync == 0
        assert not silent.synced.is_set()
        # Once it asks, it gets everything in its sync step 2.
        await silent.ws.send(sync_step1(silent.doc.get_state()))
        assert await silent.wait(lambda e: e.text == "x01234")
        await writer.append("!")
        assert await silent.wait(lambda e: e.text == "x01234!")
    finally:
        await writer.close()
        await silent.close()


async def _open_without_step1(api, user, note_id) -> PyEditor:
    t = await ticket(api.base, user)
    ws = await websockets.connect(f"{collab_url(api)}/{note_id}?ticket={t}", origin=ORIGIN)
    return PyEditor(ws)
