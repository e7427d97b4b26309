"""The verify-action harness for notes: each action's events are schema-checked against
the published Structs, go only to the space's channel (never to outsiders), and applying
them to the state read before gives the state read after."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from server.notes.events import EVENT_TYPES
from tests.helpers import services
from tests.integration.groups_support import family_with, person
from tests.integration.notes_support import NOTES, SPACES, new_note, patch_note, space_of

pytestmark = pytest.mark.integration


def check(event: dict[str, Any]) -> None:
    struct = EVENT_TYPES[event["type"]]
    msgspec.json.decode(json.dumps(event["data"]).encode(), type=struct)
    fields = set(struct.__struct_encode_fields__)  # type: ignore[attr-defined]
    assert set(event["data"]) == fields, (event["type"], set(event["data"]) ^ fields)


def apply(state: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    data = event["data"]
    if event["type"] in ("note.created", "note.updated", "note.restored"):
        state[data["note"]["id"]] = {
            "title": data["note"]["title"],
            "version": data["note"]["version"],
            "tags": data["note"]["tags"],
        }
    elif event["type"] == "note.deleted":
        state.pop(data["noteId"], None)


async def listing(client: Any, user: dict[str, Any], space_id: str) -> dict[str, dict[str, Any]]:
    page = (
        await client.get(f"{SPACES}/{space_id}/notes?limit=100", headers=user["headers"])
    ).json()
    return {
        n["id"]: {"title": n["title"], "version": n["version"], "tags": n["tags"]}
        for n in page["items"]
    }


async def test_note_actions_publish_checked_events_to_the_space_channel_only(client):
    admin, [member], gid = await family_with(client, 1)
    outsider = await person(client)
    space = await space_of(client, admin, "family", gid)
    bus = services(client).bus
    watched = [space["channel"], f"user:{admin['id']}", f"user:{outsider['id']}"]
    note: dict[str, Any] = {}

    async def create() -> None:
        note.update(await new_note(client, admin, title="Plan", body="#trip", spaceId=space["id"]))

    async def update() -> None:
        response = await patch_note(client, member, note, title="Plan B", tags=["x"])
        assert response.status_code == 200
        note.update(response.json())

    async def delete() -> None:
        assert (
            await client.delete(f"{NOTES}/{note['id']}", headers=admin["headers"])
        ).status_code == 204

    async def restore() -> None:
        response = await client.post(f"{NOTES}/{note['id']}/restore", headers=admin["headers"])
        assert response.status_code == 200

    expected = {
        create: ["note.created"],
        update: ["note.updated"],
        delete: ["note.deleted"],
        restore: ["note.restored"],
    }
    for action, types in expected.items():
        before = await listing(client, member, space["id"])
        offsets = {ch: (await bus.position(ch))[1] for ch in watched}
        await action()
        events = {
            ch: [json.loads(raw) for raw in await bus.read_since(ch, offsets[ch])] for ch in watched
        }
        assert [e["type"] for e in events[space["channel"]]] == types
        assert events[f"user:{outsider['id']}"] == []
        assert all(not e["type"].startswith("note.") for e in events[f"user:{admin['id']}"])
        for event in events[space["channel"]]:
            check(event)
            apply(before, event)
        assert before == await listing(client, member, space["id"])
    updated = [json.loads(raw) for raw in await bus.read_since(space["channel"], 0)]
    change = next(e for e in updated if e["type"] == "note.updated")
    assert sorted(change["data"]["changed"]) == ["tags", "title"]
    assert change["data"]["body"] is None  # the body did not change


async def test_a_failed_write_publishes_nothing(client):
    me = await person(client)
    note = await new_note(client, me, title="Once")
    await patch_note(client, me, note, body="two")
    bus = services(client).bus
    channel = f"user:{me['id']}"
    offset = (await bus.position(channel))[1]
    stale = await patch_note(client, me, note, body="stale")
    assert stale.status_code == 409
    assert await bus.read_since(channel, offset) == []


async def test_event_types_are_in_the_asyncapi_document(client):
    doc = (await client.get("/schema/asyncapi.json")).json()
    text = json.dumps(doc)
    for type_ in EVENT_TYPES:
        assert type_ in text, type_


async def test_document_and_import_events_match_the_published_asyncapi_schemas(client):
    """Gap in the first harness: only `note.*` events were schema-checked. An upload's
    `document.status_changed` steps and an import's `import.progress`/`import.completed`
    are checked here against the payload schemas of the served AsyncAPI document (and the
    Structs), and go only to the uploader's space channel."""
    import jsonschema

    from server import jobs
    from server.event_catalog import event_types
    from tests.integration.vault_support import vault_zip

    doc = (await client.get("/schema/asyncapi.json")).json()
    by_type = {m["name"]: m["payload"] for m in doc["components"]["messages"].values()}
    me = await person(client)
    outsider = await person(client)
    bus = services(client).bus
    channel = f"user:{me['id']}"
    start = {ch: (await bus.position(ch))[1] for ch in (channel, f"user:{outsider['id']}")}
    uploaded = await client.post(
        f"{SPACES}/personal/documents",
        files={"file": ("a.md", b"# Hello\n\nthere", "text/markdown")},
        headers=me["headers"],
    )
    assert uploaded.status_code == 202, uploaded.text
    ctx = {"services": services(client)}
    assert await jobs.extract_document(ctx, document_id=uploaded.json()["id"]) == "ready"
    imported = await client.post(
        f"{SPACES}/personal/imports",
        files={"file": ("v.zip", vault_zip(30, root=""), "application/zip")},
        headers=me["headers"],
    )
    assert imported.status_code == 202, imported.text
    assert await jobs.import_vault(ctx, import_id=imported.json()["id"]) == "completed"
    events = [json.loads(raw) for raw in await bus.read_since(channel, start[channel])]
    types = [e["type"] for e in events]
    statuses = [
        e["data"]["document"]["status"] for e in events if e["type"] == "document.status_changed"
    ]
    assert statuses == ["uploaded", "processing", "ready"]
    assert types.count("import.progress") >= 1 and types[-1] == "import.completed"
    catalog = event_types()
    for event in events:
        schema = {"$ref": "#/payload", "payload": by_type[event["type"]], **doc}
        jsonschema.Draft202012Validator(schema).validate(event)
        msgspec.json.decode(json.dumps(event["data"]).encode(), type=catalog[event["type"]])
    assert events[-1]["data"]["job"]["created"] == 30
    leaked = await bus.read_since(f"user:{outsider['id']}", start[f"user:{outsider['id']}"])
    assert leaked == []
