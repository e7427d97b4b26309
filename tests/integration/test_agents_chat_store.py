"""The user's message is stored while the run's checkpoint is read ahead (issue 18, voice):
a failed store must answer nothing, and a read-ahead checkpoint must never outlive its run."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import create_checkpoint
from pymongo.errors import AutoReconnect

from agents.checkpoint import MongoCheckpointSaver
from agents.documents import ChatMessage
from agents.scripted import ScriptedLLMFactory, reply
from tests.agents_support import CHAT, kinds, new_session, say, text_of, use_script
from tests.helpers import services
from tests.integration.wallet_support import verified_user

pytestmark = pytest.mark.integration


async def test_a_failed_store_answers_nothing_and_frees_the_chat(client, monkeypatch):
    """Storing the user's message now runs beside the checkpoint read: when the store fails
    the model is never asked, the chat is not left locked or with a read-ahead checkpoint,
    and the next message is answered with the history that really exists."""
    user = await verified_user(client)
    factory = use_script(
        client, ScriptedLLMFactory([reply("First answer."), reply("Second answer.")])
    )
    sid = await new_session(client, user, agent="personal")
    chat = services(client).chat

    collection = ChatMessage.get_pymongo_collection()

    class Broken:
        """The messages collection, whose inserts fail."""

        def __getattr__(self, name: str) -> Any:
            return getattr(collection, name)

        async def insert_one(self, *args: Any, **kwargs: Any) -> Any:
            raise AutoReconnect("mongo went away")

    monkeypatch.setattr(ChatMessage, "get_pymongo_collection", classmethod(lambda cls: Broken()))
    failed = await client.post(
        f"{CHAT}/sessions/{sid}/messages", json={"content": "hello"}, headers=user["headers"]
    )
    assert failed.status_code == 503
    assert factory.default.calls == []
    assert chat.checkpointer._primed == {}
    monkeypatch.undo()

    events = await say(client, user, sid, "hello again")
    assert kinds(events)[-1] == "message.end"
    assert text_of(events) == "First answer."
    assert chat.checkpointer._primed == {}
    history = await client.get(f"{CHAT}/sessions/{sid}/messages", headers=user["headers"])
    assert [m["content"] for m in history.json()["items"]] == ["First answer.", "hello again"]
    session = await client.get(f"{CHAT}/sessions/{sid}", headers=user["headers"])
    assert session.json()["messageCount"] == 2  # the failed message is not counted


async def test_the_second_turn_sees_the_first_through_the_read_ahead(client):
    """The read-ahead checkpoint is the one the previous run wrote (not a stale one)."""
    user = await verified_user(client)
    factory = use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
    sid = await new_session(client, user, agent="personal")
    await say(client, user, sid, "first")
    await say(client, user, sid, "second")
    seen = [m.content for m in factory.default.calls[-1]]
    assert "first" in seen and "One." in seen and seen[-1] == "second"


async def test_a_checkpoint_written_by_another_process_wins_over_the_warm_one(client):
    """The voice worker keeps the checkpoint it wrote last in memory between turns; when
    another process (the API answering the text chat) wrote the thread since, the next turn
    must read that one, not the warm copy."""
    user = await verified_user(client)
    factory = use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
    sid = await new_session(client, user, agent="personal")
    here = services(client).chat.checkpointer
    await say(client, user, sid, "first")
    assert sid in here._warm

    elsewhere = MongoCheckpointSaver(here.checkpoints.database, redis=here.redis)
    latest = await elsewhere.aget_tuple({"configurable": {"thread_id": sid}})
    assert latest is not None
    moved = create_checkpoint(latest.checkpoint, None, latest.metadata.get("step", 0) + 1)
    values = moved["channel_values"]
    values["messages"] = [*values["messages"], HumanMessage("written elsewhere")]
    await elsewhere.aput(latest.config, moved, latest.metadata, {})

    await say(client, user, sid, "second")
    seen = [m.content for m in factory.default.calls[-1]]
    assert "written elsewhere" in seen and seen[-1] == "second"
