"""Spaces: created with their owner, backfilled for data that predates them, and the
workspace roles told apart (viewer reads, editor writes and deletes own, admin any)."""

from __future__ import annotations

import pytest

from server.spaces.documents import Space
from tests.helpers import assert_error, services
from tests.integration.groups_support import create_group, join, person
from tests.integration.notes_support import NOTES, new_note, patch_note, space_of

pytestmark = pytest.mark.integration


async def test_group_creation_creates_its_space_and_backfill_fills_gaps(client):
    owner = await person(client)
    family = await create_group(client, owner, "family", name="Backfilled")
    assert (
        await Space.get_pymongo_collection().count_documents(
            {"kind": "family", "owner_id": __import__("bson").ObjectId(family["id"])}
        )
        == 1
    )
    # Data from before spaces existed: drop the spaces, then run the migration.
    await Space.get_pymongo_collection().delete_many({})
    created = await services(client).spaces.backfill()
    assert created["family"] >= 1 and created["personal"] >= 1
    again = await services(client).spaces.backfill()
    assert again == {"personal": 0, "family": 0, "workspace": 0}
    space = await space_of(client, owner, "family", family["id"])
    assert space["name"] == "Backfilled" and space["role"] == "admin"


async def test_workspace_roles_in_the_space(client):
    owner = await person(client, "own")
    ws = await create_group(client, owner, "workspace", name="Team space")
    editor, other_editor, viewer, admin = [
        await person(client, p) for p in ("ed", "ed", "vw", "ad")
    ]
    for user, role in (
        (editor, "editor"),
        (other_editor, "editor"),
        (viewer, "viewer"),
        (admin, "admin"),
    ):
        await join(client, "workspace", ws["id"], owner, user, role=role)
    space = await space_of(client, viewer, "workspace", ws["id"])
    assert not space["canWrite"]
    assert_error(
        await client.post(
            NOTES, json={"title": "no", "spaceId": space["id"]}, headers=viewer["headers"]
        ),
        403,
        "SPACE_READ_ONLY",
    )
    note = await new_note(client, editor, title="Spec", spaceId=space["id"])
    assert (await client.get(f"{NOTES}/{note['id']}", headers=viewer["headers"])).status_code == 200
    # Editors write any note, but delete only their own; admins delete any.
    assert (await patch_note(client, other_editor, note, body="edited")).status_code == 200
    assert_error(
        await client.delete(f"{NOTES}/{note['id']}", headers=other_editor["headers"]),
        403,
        "NOTE_DELETE_FORBIDDEN",
    )
    assert (
        await client.delete(f"{NOTES}/{note['id']}", headers=admin["headers"])
    ).status_code == 204
    # Restoring is for whoever could delete it: the author can, the other editor cannot.
    assert_error(
        await client.post(f"{NOTES}/{note['id']}/restore", headers=other_editor["headers"]),
        403,
        "NOTE_RESTORE_FORBIDDEN",
    )
    assert (
        await client.post(f"{NOTES}/{note['id']}/restore", headers=editor["headers"])
    ).status_code == 200
    own = await new_note(client, other_editor, title="Mine", spaceId=space["id"])
    assert (
        await client.delete(f"{NOTES}/{own['id']}", headers=other_editor["headers"])
    ).status_code == 204
