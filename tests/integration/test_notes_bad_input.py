"""The issue's bad-input list at its stated sizes, on every write path (HTTP, the manager
that agents use, the importer): 10,000 tags, a 50 MB body, a truncated real PDF and ZIP, a
note id from another space. Each is a documented 4xx (or a visible failure of that one
file) and leaves nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from server.core.actor import Actor
from server.core.errors import DomainError
from server.notes.schemas import NoteCreate
from tests.helpers import assert_error, services
from tests.integration.groups_support import person
from tests.integration.notes_support import NOTES, SPACES, new_note, patch_note, space_of
from tests.integration.test_notes_documents import PDF, make_pdf, run_worker, upload
from tests.integration.test_notes_vault import run_job, start
from tests.integration.vault_support import vault_zip, zip_of

pytestmark = pytest.mark.integration

TEN_THOUSAND = [f"tag{i}" for i in range(10_000)]


def agent(user: dict[str, Any]) -> Actor:
    return Actor(user_id=ObjectId(user["id"]), username=user["username"], channel="agent")


async def live_notes(client: Any, user: dict[str, Any]) -> list[dict[str, Any]]:
    page = (await client.get(f"{SPACES}/personal/notes?limit=100", headers=user["headers"])).json()
    return page["items"]  # type: ignore[no-any-return]


async def test_ten_thousand_tags_are_refused_on_every_path(client):
    me = await person(client)
    assert_error(
        await client.post(NOTES, json={"title": "t", "tags": TEN_THOUSAND}, headers=me["headers"]),
        422,
    )
    body_tags = " ".join(f"#{t}" for t in TEN_THOUSAND)
    assert_error(
        await client.post(NOTES, json={"title": "t", "body": body_tags}, headers=me["headers"]),
        422,
        "TOO_MANY_TAGS",
    )
    note = await new_note(client, me, title="Kept", tags=["one"])
    assert_error(await patch_note(client, me, note, tags=TEN_THOUSAND), 422)
    notes = services(client).notes
    with pytest.raises(DomainError) as raised:  # the agents' notes_tag path
        await notes.tag(agent(me), note["id"], TEN_THOUSAND, [])
    assert (raised.value.status_code, raised.value.code) == (422, "TOO_MANY_TAGS")
    with pytest.raises(DomainError) as raised:
        await notes.create(agent(me), NoteCreate(title="t", tags=TEN_THOUSAND))
    assert raised.value.code == "TOO_MANY_TAGS"
    items = await live_notes(client, me)
    assert [(n["title"], n["tags"], n["version"]) for n in items] == [("Kept", ["one"], 1)]
    # In a vault, that file fails visibly and the rest imports.
    front = "---\ntitle: Tagged\ntags: [" + ", ".join(TEN_THOUSAND) + "]\n---\nbody"
    job = (await start(client, me, "personal", zip_of({"a.md": "ok", "t.md": front}))).json()
    assert await run_job(client, job["id"]) == "completed"
    done = (await client.get(f"/api/v1/imports/{job['id']}", headers=me["headers"])).json()
    assert (done["created"], done["failed"]) == (1, 1)
    assert done["errors"][0]["path"] == "t.md" and "tags" in done["errors"][0]["error"]
    assert sorted(n["title"] for n in await live_notes(client, me)) == ["Kept", "a"]


async def test_a_fifty_megabyte_body_is_413_and_writes_nothing(client):
    me = await person(client)
    note = await new_note(client, me, title="Small", body="small")
    huge = "x" * (50 * 1024 * 1024)
    created = await client.post(NOTES, json={"title": "big", "body": huge}, headers=me["headers"])
    assert_error(created, 413)
    patched = await patch_note(client, me, note, body=huge)
    assert_error(patched, 413)
    with pytest.raises(DomainError) as raised:
        await services(client).notes.create(agent(me), NoteCreate(title="big", body=huge))
    assert (raised.value.status_code, raised.value.code) == (413, "NOTE_TOO_LARGE")
    with pytest.raises(DomainError) as raised:
        await services(client).notes.append(agent(me), note["id"], huge)
    assert raised.value.code == "NOTE_TOO_LARGE"
    items = await live_notes(client, me)
    assert [(n["title"], n["version"], n["size"]) for n in items] == [("Small", 1, 10)]
    space = await space_of(client, me, "personal")
    assert (space["noteCount"], space["bytesUsed"]) == (1, 10)


async def test_a_truncated_real_pdf_fails_visibly_and_a_truncated_zip_is_refused(client):
    me = await person(client)
    pdf = make_pdf(3)
    cut = await upload(client, me, "personal", "cut.pdf", pdf[: len(pdf) // 2], PDF)
    assert cut.status_code == 202, cut.text
    assert await run_worker(client, cut.json()["id"]) == "failed"
    doc = (await client.get(f"/api/v1/documents/{cut.json()['id']}", headers=me["headers"])).json()
    assert doc["status"] == "failed" and doc["error"] and doc["noteId"] is None
    vault = vault_zip(10)
    assert_error(await start(client, me, "personal", vault[: len(vault) // 2]), 422, "INVALID_ZIP")
    assert await live_notes(client, me) == []


async def test_a_note_id_from_another_space_is_not_found_everywhere(client):
    me = await person(client)
    other = await person(client)
    theirs = await new_note(client, other, title="Theirs", body="secret")
    mine = await new_note(client, me, title="Mine")
    space = await space_of(client, me, "personal")
    h = me["headers"]
    nid = theirs["id"]
    answers = [
        await client.get(f"{NOTES}/{nid}", headers=h),
        await client.patch(f"{NOTES}/{nid}", json={"body": "x", "baseVersion": 1}, headers=h),
        await client.delete(f"{NOTES}/{nid}", headers=h),
        await client.post(f"{NOTES}/{nid}/restore", headers=h),
        await client.post(f"{NOTES}/{nid}/move", json={"spaceId": space["id"]}, headers=h),
        await client.get(f"{NOTES}/{nid}/revisions", headers=h),
        await client.get(f"{NOTES}/{nid}/revisions/1", headers=h),
        await client.post(f"{NOTES}/{nid}/revisions/1/restore", json={}, headers=h),
        # Ids of things that are not notes, and not ids at all, answer the same.
        await client.get(f"{NOTES}/{space['id']}", headers=h),
        await client.get(f"{NOTES}/not-an-id", headers=h),
    ]
    for answer in answers:
        error = assert_error(answer, 404, "NOTE_NOT_FOUND")
        assert "Theirs" not in answer.text and "secret" not in answer.text, error
    with pytest.raises(DomainError) as raised:
        await services(client).notes.append(agent(me), nid, "mine now")
    assert raised.value.code == "NOTE_NOT_FOUND"
    # A link to it stays unresolved, and nothing of theirs changed.
    linked = (await patch_note(client, me, mine, body=f"[[id:{nid}]] [[Theirs]]")).json()
    assert [link["noteId"] for link in linked["links"]] == [None, None]
    again = (await client.get(f"{NOTES}/{nid}", headers=other["headers"])).json()
    assert (again["version"], again["body"], again["backlinks"]) == (1, "secret", [])
