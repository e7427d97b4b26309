"""Every query the notes routes send uses an index (no collection scan).

SecantusDB's planner uses an index only when all fields of a filter are a prefix of the
index's keys, and never for `$or` or `$ne`; `null` next to `$in` defeats it too. The
notes code filtered by `deleted_at: None` next to indexed keys, by `$or` and by `$ne`, so
reading one note, its compare-and-set write, trashing, restoring and listing each scanned
the whole `notes` collection (100-200 ms at 2,000 notes). This test records the filters
the app really sends and asks the database to explain each one.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import monitoring

from tests.helpers import services
from tests.integration.groups_support import person
from tests.integration.notes_support import NOTES, SPACES, new_note, patch_note

pytestmark = pytest.mark.integration

WATCHED = {"notes", "note_revisions", "spaces"}


class Recorder(monitoring.CommandListener):
    """Filters of find/findAndModify/update/delete on the notes collections, while on."""

    def __init__(self) -> None:
        self.on = False
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.on:
            return
        cmd = event.command
        name = event.command_name
        collection = cmd.get(name)
        if collection not in WATCHED:
            return
        if name == "find":
            self.seen.append((collection, dict(cmd.get("filter", {}))))
        elif name == "findAndModify":
            self.seen.append((collection, dict(cmd.get("query", {}))))
        elif name in ("update", "delete"):
            key = "updates" if name == "update" else "deletes"
            for item in cmd.get(key, []):
                self.seen.append((collection, dict(item["q"])))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


RECORDER = Recorder()
monitoring.register(RECORDER)  # global: applies to the app's client created in the test


def stages(plan: dict[str, Any]) -> list[str]:
    out = [plan.get("stage", "")]
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            out += stages(plan[key])
    for child in plan.get("inputStages", []):
        out += stages(child)
    return out


async def test_note_routes_send_only_indexed_queries(client):
    me = await person(client)
    target = await new_note(client, me, title="Target", aliases=["T"])
    RECORDER.seen.clear()
    RECORDER.on = True
    try:
        note = await new_note(
            client, me, title="Source", body=f"[[Target]] [[T|x]] [[id:{target['id']}]]"
        )
        assert (await client.get(f"{NOTES}/{target['id']}", headers=me["headers"])).json()[
            "backlinks"
        ] == [{"id": note["id"], "title": "Source"}]
        note = (await patch_note(client, me, note, body="[[Target]] edited")).json()
        await client.get(f"{SPACES}/personal/notes?limit=1", headers=me["headers"])
        page = (await client.get(f"{SPACES}/personal/notes?limit=1", headers=me["headers"])).json()
        await client.get(
            f"{SPACES}/personal/notes?limit=1&tag=x&cursor={page['nextCursor']}",
            headers=me["headers"],
        )
        assert (
            await client.delete(f"{NOTES}/{note['id']}", headers=me["headers"])
        ).status_code == 204
        await client.get(f"{SPACES}/personal/trash", headers=me["headers"])
        assert (
            await client.post(f"{NOTES}/{note['id']}/restore", headers=me["headers"])
        ).status_code == 200
        await client.get(f"{NOTES}/{note['id']}/revisions", headers=me["headers"])
    finally:
        RECORDER.on = False
    assert len(RECORDER.seen) > 10
    db = services(client).mongo[client.app.state["settings"].mongodb_db]
    scans = []
    for collection, query in RECORDER.seen:
        explained = await db.command("explain", {"find": collection, "filter": query})
        if "COLLSCAN" in stages(explained["queryPlanner"]["winningPlan"]):
            scans.append((collection, query))
    assert scans == []
