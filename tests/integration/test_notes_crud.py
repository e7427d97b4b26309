"""Notes over HTTP: create, read, change with versions, tags, wikilinks and backlinks,
revisions, trash, paging, quotas and the events on the space's channel."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import assert_error, detail_context, services
from tests.integration.groups_support import family_with, person
from tests.integration.notes_support import NOTES, SPACES, new_note, patch_note, space_of

pytestmark = pytest.mark.integration


async def test_personal_space_exists_at_registration_and_notes_land_there(client):
    me = await person(client)
    personal = await space_of(client, me, "personal")
    assert personal["ownerId"] == me["id"] and personal["canWrite"]
    assert personal["channel"] == f"user:{me['id']}"
    note = await new_note(client, me, title="First", body="Hello #Inbox and #1", tags=["Work"])
    assert note["spaceId"] == personal["id"]
    assert note["version"] == 1
    assert note["tags"] == ["work", "inbox"]  # explicit first, body #tags lowercased, #1 skipped
    got = await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json()["body"] == "Hello #Inbox and #1"


async def test_version_conflict_carries_the_current_version(client):
    me = await person(client)
    note = await new_note(client, me, title="V", body="one")
    ok = await patch_note(client, me, note, body="two")
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = await patch_note(client, me, note, body="three")
    error = assert_error(stale, 409, "VERSION_CONFLICT")
    assert detail_context(error) == [{"currentVersion": 2}]
    by_header = await client.patch(
        f"{NOTES}/{note['id']}",
        json={"body": "three"},
        headers={**me["headers"], "If-Match": '"2"'},
    )
    assert by_header.status_code == 200 and by_header.json()["version"] == 3
    missing = await client.patch(f"{NOTES}/{note['id']}", json={"body": "x"}, headers=me["headers"])
    assert_error(missing, 428, "VERSION_REQUIRED")
    current = await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])
    assert current.json()["body"] == "three"


async def test_two_concurrent_edits_with_the_same_base_exactly_one_wins(client):
    me = await person(client)
    note = await new_note(client, me, title="Race", body="base")
    results = await asyncio.gather(
        *[patch_note(client, me, note, body=f"edit {i}") for i in range(4)]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409], [r.text for r in results]
    winner = next(r.json() for r in results if r.status_code == 200)
    current = (await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])).json()
    assert current["version"] == 2 and current["body"] == winner["body"]
    revisions = (await client.get(f"{NOTES}/{note['id']}/revisions", headers=me["headers"])).json()[
        "items"
    ]
    assert [r["version"] for r in revisions] == [2, 1]


async def test_wikilinks_resolve_inside_the_space_with_backlinks(client):
    me = await person(client)
    other = await person(client)
    hidden = await new_note(client, other, title="Secret")
    older = await new_note(client, me, title="Topic", body="old")
    newer = await new_note(client, me, title="topic", body="new")  # same title, newer
    source = await new_note(
        client,
        me,
        title="Index",
        body=(
            "See [[Topic]], [[Topic|the topic]], [[id:" + older["id"] + "]], "
            "[[Nowhere]], [[id:" + hidden["id"] + "]] and [[Secret]].\n"
            "`[[Not a link]]`"
        ),
    )
    links = {(link["target"], link["alias"]): link for link in source["links"]}
    assert links[("Topic", None)]["noteId"] == newer["id"]  # ambiguous: most recently updated
    assert links[("Topic", "the topic")]["noteId"] == newer["id"]
    assert links[("id:" + older["id"], None)]["noteId"] == older["id"]
    assert links[("Nowhere", None)]["noteId"] is None
    # A note of another user's space never resolves and its title is never shown.
    assert links[("id:" + hidden["id"], None)] == {
        "target": "id:" + hidden["id"],
        "alias": None,
        "noteId": None,
        "title": None,
    }
    assert links[("Secret", None)]["noteId"] is None
    assert ("Not a link", None) not in links
    newer_view = (await client.get(f"{NOTES}/{newer['id']}", headers=me["headers"])).json()
    assert [b["id"] for b in newer_view["backlinks"]] == [source["id"]]
    older_view = (await client.get(f"{NOTES}/{older['id']}", headers=me["headers"])).json()
    assert [b["id"] for b in older_view["backlinks"]] == [source["id"]]  # via [[id:…]]
    # Once renamed, the older note gets the title links when it is the newest match.
    await patch_note(client, me, older_view, body="old, edited")
    again = (await client.get(f"{NOTES}/{source['id']}", headers=me["headers"])).json()
    assert {link["noteId"] for link in again["links"] if link["target"] == "Topic"} == {older["id"]}


async def test_limits_on_title_tags_and_body(client):
    me = await person(client)
    too_many = await client.post(
        NOTES, json={"title": "t", "tags": [f"t{i}" for i in range(51)]}, headers=me["headers"]
    )
    assert_error(too_many, 422)
    body_tags = " ".join(f"#tag{i}" for i in range(60))
    assert_error(
        await client.post(NOTES, json={"title": "t", "body": body_tags}, headers=me["headers"]),
        422,
        "TOO_MANY_TAGS",
    )
    assert_error(
        await client.post(NOTES, json={"title": "t", "tags": ["Bad Tag!"]}, headers=me["headers"]),
        422,
        "INVALID_TAG",
    )
    assert_error(await client.post(NOTES, json={"title": ""}, headers=me["headers"]), 422)
    big = "x" * (1024 * 1024 + 1)
    response = await client.post(NOTES, json={"title": "big", "body": big}, headers=me["headers"])
    assert response.status_code == 413, response.status_code
    # The manager enforces the limit itself (agents and the importer don't pass HTTP).
    from bson import ObjectId

    from server.core.actor import Actor
    from server.core.errors import DomainError
    from server.notes.schemas import NoteCreate

    actor = Actor(user_id=ObjectId(me["id"]), username=me["username"], channel="agent")
    with pytest.raises(DomainError) as raised:
        await services(client).notes.create(actor, NoteCreate(title="big", body=big))
    assert raised.value.code == "NOTE_TOO_LARGE" and raised.value.status_code == 413
    page = (await client.get(f"{SPACES}/personal/notes", headers=me["headers"])).json()
    assert page["items"] == []  # nothing half-written


async def test_trash_restore_and_purge(client):
    from datetime import timedelta

    from server.core.clock import utcnow

    me = await person(client)
    note = await new_note(client, me, title="Bin me", body="text")
    deleted = await client.delete(f"{NOTES}/{note['id']}", headers=me["headers"])
    assert deleted.status_code == 204
    personal = await space_of(client, me, "personal")
    live = (await client.get(f"{SPACES}/{personal['id']}/notes", headers=me["headers"])).json()
    assert live["items"] == []
    trash = (await client.get(f"{SPACES}/{personal['id']}/trash", headers=me["headers"])).json()
    assert [n["id"] for n in trash["items"]] == [note["id"]]
    assert_error(await patch_note(client, me, note, body="x"), 409, "NOTE_IN_TRASH")
    restored = await client.post(f"{NOTES}/{note['id']}/restore", headers=me["headers"])
    assert restored.status_code == 200 and restored.json()["deletedAt"] is None
    # Trash it again and let the retention pass: the worker job purges it with revisions.
    await client.delete(f"{NOTES}/{note['id']}", headers=me["headers"])
    notes = services(client).notes
    notes.store.now = lambda: utcnow() + timedelta(days=31)
    from server import jobs

    purged = await jobs.purge_notes_trash({"services": services(client)})
    assert purged >= 1
    assert_error(await client.get(f"{NOTES}/{note['id']}", headers=me["headers"]), 404)
    from server.notes.documents import NoteRevision

    assert (
        await NoteRevision.get_pymongo_collection().count_documents(
            {"note_id": __import__("bson").ObjectId(note["id"])}
        )
        == 0
    )
    space = await space_of(client, me, "personal")
    assert space["noteCount"] == 0 and space["bytesUsed"] == 0


async def test_revisions_list_read_and_restore(client):
    me = await person(client)
    note = await new_note(client, me, title="Draft", body="v1")
    v2 = (await patch_note(client, me, note, body="v2", title="Draft 2")).json()
    revs = (await client.get(f"{NOTES}/{note['id']}/revisions", headers=me["headers"])).json()[
        "items"
    ]
    assert [r["version"] for r in revs] == [2, 1]
    first = await client.get(f"{NOTES}/{note['id']}/revisions/1", headers=me["headers"])
    assert first.json()["body"] == "v1" and first.json()["title"] == "Draft"
    back = await client.post(
        f"{NOTES}/{note['id']}/revisions/1/restore",
        json={"baseVersion": v2["version"]},
        headers=me["headers"],
    )
    assert back.status_code == 200, back.text
    assert back.json()["version"] == 3 and back.json()["body"] == "v1"
    assert_error(
        await client.get(f"{NOTES}/{note['id']}/revisions/9", headers=me["headers"]),
        404,
        "REVISION_NOT_FOUND",
    )


async def test_paging_by_updated_at_and_tag_filter(client):
    me = await person(client)
    made = [
        await new_note(client, me, title=f"N{i}", tags=["even"] if i % 2 == 0 else [])
        for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        url = f"{SPACES}/personal/notes?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=me["headers"])).json()
        seen += [n["id"] for n in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [n["id"] for n in reversed(made)]
    even = (await client.get(f"{SPACES}/personal/notes?tag=even", headers=me["headers"])).json()
    assert {n["id"] for n in even["items"]} == {made[i]["id"] for i in (0, 2, 4, 6)}
    assert_error(
        await client.get(f"{SPACES}/personal/notes?cursor=%%%", headers=me["headers"]), 422
    )


async def test_quota_on_notes_per_space(app_factory):
    async with app_factory(notes_max_per_space=2) as client:
        me = await person(client)
        await new_note(client, me, title="a")
        await new_note(client, me, title="b")
        assert_error(
            await client.post(NOTES, json={"title": "c"}, headers=me["headers"]),
            422,
            "SPACE_NOTE_QUOTA",
        )
    async with app_factory(notes_max_bytes_per_space=2048) as client:
        me = await person(client)
        assert_error(
            await client.post(
                NOTES, json={"title": "c", "body": "x" * 3000}, headers=me["headers"]
            ),
            413,
            "SPACE_STORAGE_QUOTA",
        )


async def test_family_space_members_write_and_leaving_ends_access(client):
    admin, [member], gid = await family_with(client, 1)
    space = await space_of(client, member, "family", gid)
    assert space["channel"] == f"family:{gid}" and space["canWrite"]
    by_admin = await new_note(client, admin, title="Groceries", spaceId=space["id"])
    edited = await patch_note(client, member, by_admin, body="milk")
    assert edited.status_code == 200
    # A member deletes only their own notes; an admin any.
    assert_error(
        await client.delete(f"{NOTES}/{by_admin['id']}", headers=member["headers"]),
        403,
        "NOTE_DELETE_FORBIDDEN",
    )
    mine = await new_note(client, member, title="Mine", spaceId=space["id"])
    assert (
        await client.delete(f"{NOTES}/{mine['id']}", headers=admin["headers"])
    ).status_code == 204
    left = await client.post(f"/api/v1/families/{gid}/leave", headers=member["headers"])
    assert left.status_code in (200, 204), left.text
    assert_error(await client.get(f"{NOTES}/{by_admin['id']}", headers=member["headers"]), 404)
    assert_error(await client.get(f"{SPACES}/{space['id']}", headers=member["headers"]), 404)


async def test_move_needs_write_on_both_spaces(client):
    admin, [member], gid = await family_with(client, 1)
    family = await space_of(client, admin, "family", gid)
    note = await new_note(client, admin, title="Move me", body="[[Move me]]")
    moved = await client.post(
        f"{NOTES}/{note['id']}/move",
        json={"spaceId": family["id"], "baseVersion": 1},
        headers=admin["headers"],
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["spaceId"] == family["id"] and moved.json()["version"] == 2
    # The member can read it now; moving it into their personal space needs delete rights.
    member_personal = await space_of(client, member, "personal")
    refused = await client.post(
        f"{NOTES}/{note['id']}/move",
        json={"spaceId": member_personal["id"], "baseVersion": 2},
        headers=member["headers"],
    )
    assert_error(refused, 403, "NOTE_DELETE_FORBIDDEN")
    # Into a space one cannot read: 404, as if it did not exist.
    stranger = await person(client)
    theirs = await space_of(client, stranger, "personal")
    assert_error(
        await client.post(
            f"{NOTES}/{note['id']}/move",
            json={"spaceId": theirs["id"], "baseVersion": 2},
            headers=admin["headers"],
        ),
        404,
        "SPACE_NOT_FOUND",
    )
    fam = await space_of(client, admin, "family", gid)
    assert fam["noteCount"] == 1


async def test_creates_contending_past_every_retry_get_503_never_500(client, monkeypatch):
    """Bug: eight concurrent creates in one space exhausted the transaction retries on the
    space's counters (a WriteConflict) and the client got a 500 INTERNAL_ERROR. Now an
    exhausted retry is a retryable 503 `NOTES_BUSY` with Retry-After, and the counters
    match the notes that were created."""
    import server.notes.store as store

    monkeypatch.setattr(store, "TX_ATTEMPTS", 1)
    me = await person(client)
    results = await asyncio.gather(
        *[client.post(NOTES, json={"title": f"c{i}"}, headers=me["headers"]) for i in range(8)]
    )
    codes = [r.status_code for r in results]
    assert set(codes) <= {201, 503}, [r.text for r in results]
    for busy in (r for r in results if r.status_code == 503):
        assert_error(busy, 503, "NOTES_BUSY")
        assert busy.headers["retry-after"] == "1"
    space = await space_of(client, me, "personal")
    page = (await client.get(f"{SPACES}/personal/notes", headers=me["headers"])).json()
    assert space["noteCount"] == len(page["items"]) == codes.count(201)
