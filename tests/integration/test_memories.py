"""Long-term memories (issue 13 part 6): written through the manager with `memory.saved`,
updates keep the history, only the user deletes (an agent's delete is refused)."""

from __future__ import annotations

import pytest
from bson import ObjectId

from server.core.actor import Actor
from server.memory.schemas import MemoryCreate
from tests.helpers import assert_error, services
from tests.integration.groups_support import person

pytestmark = pytest.mark.integration
MEMORIES = "/api/v1/memories"


async def test_memories_keep_their_history_and_only_the_user_deletes(client):
    me = await person(client)
    other = await person(client)
    created = await client.post(MEMORIES, json={"text": "I am vegetarian"}, headers=me["headers"])
    assert created.status_code == 201, created.text
    memory = created.json()
    assert memory["version"] == 1 and memory["via"] == "http"
    changed = await client.patch(
        f"{MEMORIES}/{memory['id']}",
        json={"text": "I am vegan", "baseVersion": 1},
        headers=me["headers"],
    )
    assert changed.status_code == 200, changed.text
    assert [h["text"] for h in changed.json()["history"]] == ["I am vegetarian", "I am vegan"]
    stale = await client.patch(
        f"{MEMORIES}/{memory['id']}", json={"text": "x", "baseVersion": 1}, headers=me["headers"]
    )
    assert_error(stale, 409, "VERSION_CONFLICT")
    assert (await client.get(MEMORIES, headers=other["headers"])).json()["items"] == []
    foreign = await client.delete(f"{MEMORIES}/{memory['id']}", headers=other["headers"])
    assert_error(foreign, 404, "MEMORY_NOT_FOUND")

    manager = services(client).memories
    agent = Actor(user_id=ObjectId(me["user"]["id"]), username="me", channel="agent")
    proposed = await manager.create(agent, MemoryCreate(text="Likes hiking"))
    assert proposed.via == "agent"
    with pytest.raises(Exception) as refused:
        await manager.delete(agent, memory["id"])
    assert getattr(refused.value, "code", "") == "MEMORY_DELETE_USER_ONLY"
    listed = (await client.get(MEMORIES, headers=me["headers"])).json()["items"]
    assert {m["text"] for m in listed} == {"I am vegan", "Likes hiking"}
    gone = await client.delete(f"{MEMORIES}/{memory['id']}", headers=me["headers"])
    assert gone.status_code == 204
    assert [
        m["text"] for m in (await client.get(MEMORIES, headers=me["headers"])).json()["items"]
    ] == ["Likes hiking"]


async def test_the_agent_saves_a_memory_the_user_then_sees(client):
    from agents.scripted import ScriptedLLMFactory, call, reply
    from tests.agents_support import new_session, of, say, use_script

    me = await person(client)
    use_script(
        client,
        ScriptedLLMFactory([call("memory_save", {"text": "Allergic to nuts"}), reply("Noted.")]),
    )
    sid = await new_session(client, me, agent="personal")
    ends = of(await say(client, me, sid, "remember that I am allergic to nuts"), "tool.end")
    assert ends[0]["status"] == "ok", ends
    listed = (await client.get(MEMORIES, headers=me["headers"])).json()["items"]
    assert [(m["text"], m["via"]) for m in listed] == [("Allergic to nuts", "agent")]
