"""Who may edit a live note, and what everyone else sees: viewers are refused and told,
a removed member is cut off within a second, cursors carry the verified name and vanish,
REST edits of a live note land in the live document."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from realtime.collab import protocol as p
from tests.e2e.collab_support import (
    NodeEditor,
    PyEditor,
    get_note,
    new_note,
    wait_note,
    workspace_with,
)
from tests.e2e.realtime_support import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_a_viewers_updates_are_refused_and_they_are_told(apis, mongo_url):
    api = await apis.start()
    owner = await register(api.base)
    viewer = await register(api.base)
    _, space_id = await workspace_with(
        api, owner, viewer, "viewer", mongo_url=mongo_url, db=apis.db
    )
    note = await new_note(api, owner, body="read me", spaceId=space_id)
    editor = await PyEditor.open(api, owner, note["id"])
    reader = await PyEditor.open(api, viewer, note["id"])
    node = await NodeEditor.open(api, viewer, note["id"])
    try:
        assert await reader.wait(lambda e: e.synced.is_set() and e.text == "read me")
        await reader.append(" (vandalised)")
        assert await reader.wait(lambda e: bool(e.denied))
        assert "read-only" in reader.denied[0]
        await node.expect("synced")
        await node.send(op="insert", index=0, text="NODE VIEWER ")
        assert "read-only" in (await node.expect("denied"))["reason"]
        # The viewer still receives what editors write.
        await editor.append("!")
        assert await reader.wait(lambda e: "!" in e.text)  # (its own local edit stays local)
        fresh = await PyEditor.open(api, owner, note["id"])
        assert await fresh.wait(lambda e: e.synced.is_set())
        assert fresh.text == "read me!"
        await fresh.close()
        assert reader.close_code is None
    finally:
        await node.quit()
        await editor.close()
        await reader.close()


async def test_a_member_removed_from_the_workspace_is_cut_off_within_1_s(apis, mongo_url):
    api1 = await apis.start()
    api2 = await apis.start()
    owner = await register(api1.base)
    member = await register(api1.base)
    wid, space_id = await workspace_with(
        api1, owner, member, "editor", mongo_url=mongo_url, db=apis.db
    )
    note = await new_note(api1, owner, body="team", spaceId=space_id)
    mine = await PyEditor.open(api1, owner, note["id"])
    theirs = await PyEditor.open(api2, member, note["id"])
    try:
        assert await theirs.wait(lambda e: e.synced.is_set())
        async with httpx.AsyncClient(base_url=api1.base, timeout=30) as client:
            r = await client.delete(
                f"/api/v1/workspaces/{wid}/members/{member.id}", headers=owner.headers
            )
            assert r.status_code == 204, r.text
        assert await theirs.closed(timeout=1.0) == p.CLOSE_FORBIDDEN
        assert mine.close_code is None
        # And cannot come back.
        again = await PyEditor.open(api1, member, note["id"])
        assert await again.closed() == p.CLOSE_FORBIDDEN
    finally:
        await mine.close()
        await theirs.close()


async def test_cursors_carry_the_verified_name_and_vanish(apis):
    """Awareness crosses processes stamped with the user's name and colour; a closed socket's
    cursor goes at once, a killed process's within the awareness timeout."""
    api1 = await apis.start(collab_awareness_timeout_seconds=2)
    api2 = await apis.start(collab_awareness_timeout_seconds=2)
    ann = await register(api1.base)
    note = await new_note(api1, ann, body="x")
    a = await PyEditor.open(api1, ann, note["id"])
    b = await PyEditor.open(api2, ann, note["id"])
    try:
        assert await a.wait(lambda e: e.synced.is_set())
        assert await b.wait(lambda e: e.synced.is_set())
        await a.set_awareness({"user": {"name": "mallory"}, "cursor": {"anchor": 1}})
        assert await b.wait(lambda e: a.doc.client_id in e.awareness)
        state = json.loads(b.awareness[a.doc.client_id])
        assert state["user"]["name"] == ann.username and state["user"]["id"] == ann.id
        assert state["user"]["color"].startswith("#") and state["cursor"] == {"anchor": 1}
        await a.close()
        assert await b.wait(lambda e: a.doc.client_id not in e.awareness, timeout=2)
        # A process killed under its clients: their cursors expire on the other process.
        c = await PyEditor.open(api1, ann, note["id"])
        assert await c.wait(lambda e: e.synced.is_set())
        await c.set_awareness({"cursor": None})
        assert await b.wait(lambda e: c.doc.client_id in e.awareness)
        api1.kill()
        started = time.monotonic()
        assert await b.wait(lambda e: c.doc.client_id not in e.awareness, timeout=10)
        assert time.monotonic() - started < 10
    finally:
        await b.close()


async def test_a_rest_edit_of_a_live_note_lands_in_the_document(apis):
    """REST and live editors never overwrite each other: the PATCH is applied to the live
    document (also when live edits are not materialised yet) and the note follows it."""
    api1 = await apis.start(collab_materialise_idle_seconds=1.5)
    api2 = await apis.start(collab_materialise_idle_seconds=1.5)
    user = await register(api1.base)
    note = await new_note(api1, user, title="T", body="hello world")
    live = await PyEditor.open(api2, user, note["id"])
    try:
        assert await live.wait(lambda e: e.synced.is_set() and e.text == "hello world")
        await live.append("!!")  # not materialised yet when the PATCH lands
        await asyncio.sleep(0.1)
        current = await get_note(api1, user, note["id"])
        async with httpx.AsyncClient(base_url=api1.base, timeout=30) as client:
            r = await client.patch(
                f"/api/v1/notes/{note['id']}",
                json={"body": "hello brave world", "baseVersion": current["version"]},
                headers=user.headers,
            )
            assert r.status_code == 200, r.text
        assert await live.wait(lambda e: e.text == "hello brave world!!"), live.text
        final = await wait_note(api1, user, note["id"], lambda n: n["body"] == live.text)
        assert final["body"] == "hello brave world!!"
        async with httpx.AsyncClient(base_url=api1.base, timeout=30) as client:
            revisions = (
                await client.get(f"/api/v1/notes/{note['id']}/revisions", headers=user.headers)
            ).json()["items"]
        assert len(revisions) >= 3
    finally:
        await live.close()
