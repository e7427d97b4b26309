"""Long-term memory in the chat (issue 13 part 6): "remember that…" goes to the knowledge
agent, which saves through the memory manager (announced as `memory.saved`, never silent);
each turn puts the few relevant memories into the model's context and leaves unrelated ones
out, by meaning (the search embedder) or, when it is down, by shared words."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from agents.catalog import AGENTS
from agents.scripted import ScriptedLLMFactory, call, reply
from server.core.actor import Actor
from server.search.embedders import EmbedderUnavailable
from tests.agents_support import new_session, of, say, use_script
from tests.helpers import services
from tests.integration.groups_support import person
from tests.voice_support import events_of

pytestmark = pytest.mark.integration
MEMORIES = "/api/v1/memories"


async def remember(client: Any, user: dict[str, Any], text: str) -> dict[str, Any]:
    response = await client.post(MEMORIES, json={"text": text}, headers=user["headers"])
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def system_prompt(factory: ScriptedLLMFactory, agent: str) -> str:
    model = factory.models.get(agent, factory.default)
    return str(model.calls[-1][0].content)


async def test_remember_that_is_routed_saved_and_announced(client):
    me = await person(client)
    factory = use_script(
        client,
        ScriptedLLMFactory(
            per_agent={
                "knowledge": [
                    call("memory_save", {"text": "My passport expires in March 2027"}),
                    reply("I'll remember that your passport expires in March 2027."),
                ]
            }
        ),
    )
    sid = await new_session(client, me)
    events = await say(client, me, sid, "Remember that my passport expires in March 2027")
    assert of(events, "message.start")[0]["agent"] == "knowledge"
    assert factory.requested[-1] == "knowledge"
    assert of(events, "tool.end")[0]["status"] == "ok"
    listed = (await client.get(MEMORIES, headers=me["headers"])).json()["items"]
    assert [(m["text"], m["via"]) for m in listed] == [
        ("My passport expires in March 2027", "agent")
    ]
    saved = await events_of(client, me, "memory.saved")
    assert [e["memory"]["id"] for e in saved] == [listed[0]["id"]]
    # No agent can forget: there is no delete tool, and the manager refuses the channel.
    assert not any("delete" in t for a in AGENTS.values() for t in a.tools if "memory" in t)


async def test_relevant_memories_reach_the_model_and_unrelated_ones_do_not(client):
    me = await person(client)
    passport = await remember(client, me, "My passport expires in March 2027")
    await remember(client, me, "The dog's name is Biscuit")
    other = await person(client)
    await remember(client, other, "My passport number is X123 and it expires soon")
    factory = use_script(
        client,
        ScriptedLLMFactory(
            [
                call("wallet_balance"),
                reply("In March 2027."),
                reply("Hi!"),
            ]
        ),
    )
    sid = await new_session(client, me, agent="personal")
    await say(client, me, sid, "when is my travel document no longer valid? passport")
    model = factory.default
    first_prompt = str(model.calls[0][0].content)
    assert "My passport expires in March 2027" in first_prompt
    assert f"(memory {passport['id']})" in first_prompt
    assert "Biscuit" not in first_prompt and "X123" not in first_prompt
    # The tool round of the same run sees the same recall (recalled once per message).
    assert str(model.calls[1][0].content) == first_prompt
    await say(client, me, sid, "hello there")
    unrelated = system_prompt(factory, "personal")
    assert "passport" not in unrelated and "Biscuit" not in unrelated


async def test_semantic_recall_finds_a_memory_with_no_shared_word(client):
    me = await person(client)
    await remember(client, me, "I am allergic to peanuts")
    await remember(client, me, "My sister lives in Lisbon")
    manager = services(client).memories
    actor = Actor(user_id=ObjectId(me["user"]["id"]), username="me", channel="agent")
    found = await manager.recall(actor, "which nuts make me sick?")
    assert [m.text for m in found] == ["I am allergic to peanuts"]


async def test_recall_falls_back_to_shared_words_when_the_embedder_is_down(client):
    class Down:
        name = "down"

        async def embed_documents(self, texts: list[str]) -> Any:
            raise EmbedderUnavailable("ollama is out")

        async def embed_query(self, text: str) -> Any:
            raise EmbedderUnavailable("ollama is out")

    me = await person(client)
    await remember(client, me, "My passport expires in March 2027")
    await remember(client, me, "The dog's name is Biscuit")
    manager = services(client).memories
    manager.recaller.embedder = Down()
    factory = use_script(client, ScriptedLLMFactory([reply("March 2027.")]))
    sid = await new_session(client, me, agent="personal")
    events = await say(client, me, sid, "when does my passport expire?")
    assert of(events, "message.end")[0]["status"] == "complete"
    prompt = system_prompt(factory, "personal")
    assert "My passport expires in March 2027" in prompt and "Biscuit" not in prompt
