"""The notes tools: agents write through NotesManager as their user (channel `agent`),
the space rules hold for them, and deleting a note pauses for approval."""

from __future__ import annotations

import json

import pytest

from agents.catalog import AGENTS
from agents.scripted import ScriptedLLMFactory, call, reply
from tests.agents_support import decide, new_session, of, say, use_script
from tests.integration.groups_support import create_group, family_with, join, person
from tests.integration.notes_support import NOTES, new_note, space_of

pytestmark = pytest.mark.integration


def test_notes_tools_are_in_the_personal_family_and_workspace_agents():
    for name in ("personal", "family", "workspace"):
        assert {"notes_list", "notes_get", "notes_create", "notes_delete"} <= set(
            AGENTS[name].tools
        )


async def test_agent_creates_appends_and_tags_as_the_user(client):
    admin, (member,), fid = await family_with(client, 1)
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call(
                    "notes_create",
                    {
                        "title": "Packing list",
                        "body": "- tent",
                        "tags": "trip,camping",
                        "space": "family",
                    },
                ),
                reply("Created."),
            ]
        ),
    )
    sid = await new_session(client, member, agent="family")
    events = await say(client, member, sid, "start a family packing list")
    end = of(events, "tool.end")[0]
    assert end["status"] == "ok", end
    created = json.loads(end["result"])
    family = await space_of(client, admin, "family", fid)
    assert created["spaceId"] == family["id"] and created["tags"] == ["trip", "camping"]
    assert created["updatedVia"] == "agent" and created["authorId"] == member["id"]

    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("notes_append", {"note_id": created["id"], "text": "- stove"}),
                call("notes_tag", {"note_id": created["id"], "add": "gear", "remove": "camping"}),
                reply("Done."),
            ]
        ),
    )
    events = await say(client, member, sid, "add the stove and tag it gear")
    assert [e["status"] for e in of(events, "tool.end")] == ["ok", "ok"]
    note = (await client.get(f"{NOTES}/{created['id']}", headers=admin["headers"])).json()
    assert note["body"].endswith("- stove\n") and note["tags"] == ["trip", "gear"]
    assert note["version"] == 3


async def test_agent_of_a_viewer_cannot_write_and_a_stranger_cannot_read(client):
    owner = await person(client)
    ws = await create_group(client, owner, "workspace", name="Readers only")
    viewer = await person(client)
    await join(client, "workspace", ws["id"], owner, viewer, role="viewer")
    space = await space_of(client, owner, "workspace", ws["id"])
    note = await new_note(client, owner, title="Roadmap", spaceId=space["id"])
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("notes_update", {"note_id": note["id"], "body": "hijacked"}),
                reply("I can't."),
            ]
        ),
    )
    sid = await new_session(client, viewer, agent="workspace")
    end = of(await say(client, viewer, sid, "rewrite the roadmap"), "tool.end")[0]
    assert end["status"] == "error" and "SPACE_READ_ONLY" in end["result"]
    stranger = await person(client)
    use_script(
        client, ScriptedLLMFactory([call("notes_get", {"note_id": note["id"]}), reply("No.")])
    )
    sid = await new_session(client, stranger, agent="personal")
    end = of(await say(client, stranger, sid, "show me the roadmap"), "tool.end")[0]
    assert end["status"] == "error" and "NOTE_NOT_FOUND" in end["result"]
    assert "Roadmap" not in end["result"]
    current = (await client.get(f"{NOTES}/{note['id']}", headers=owner["headers"])).json()
    assert current["version"] == 1


async def test_notes_delete_waits_for_approval(client):
    me = await person(client)
    note = await new_note(client, me, title="Old idea")
    use_script(
        client,
        ScriptedLLMFactory([call("notes_delete", {"note_id": note["id"]}), reply("Deleted.")]),
    )
    sid = await new_session(client, me, agent="personal")
    events = await say(client, me, sid, "delete my old idea")
    approval = of(events, "approval_required")[0]
    assert approval["tool"] == "notes_delete"
    assert (await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])).json()[
        "deletedAt"
    ] is None
    resumed = await decide(client, me, sid, approval["approvalId"], True)
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    assert (await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])).json()["deletedAt"]
