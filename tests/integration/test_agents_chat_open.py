"""Opening a chat turn (agents/send.py, issue 18 voice): the rate count runs beside the
session and approvals lookups, and a session this process already answered is not read
again. The errors, their order and what a refused message leaves behind stay as they were
with the checks one after another."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from agents.documents import ChatApproval, ChatMessage, ChatSession
from agents.scripted import ScriptedLLMFactory, reply
from agents.voice.turns import SPOKEN_ERRORS
from tests.agents_support import CHAT, new_session, say, text_of, use_script
from tests.helpers import assert_error, register, services
from tests.integration.wallet_support import verified_user

pytestmark = pytest.mark.integration


async def post(client: Any, user: dict[str, Any], sid: str, content: str, **extra: Any) -> Any:
    return await client.post(
        f"{CHAT}/sessions/{sid}/messages",
        json={"content": content, **extra},
        headers=user["headers"],
    )


async def counted(client: Any, user: dict[str, Any]) -> int:
    raw = await services(client).redis.get(f"rl:chat:{user['user']['id']}")
    return int(raw or 0)


async def locked(client: Any, sid: str) -> bool:
    return bool(await services(client).redis.exists(f"chat:lock:{sid}"))


async def delete_elsewhere(sid: str) -> None:
    """Delete the session as another process would (this process's memory not told)."""
    oid = ObjectId(sid)
    await ChatMessage.get_pymongo_collection().delete_many({"session_id": oid})
    await ChatSession.get_pymongo_collection().delete_one({"_id": oid})


async def test_a_known_session_deleted_elsewhere_answers_404_and_stores_nothing(client):
    user = await verified_user(client)
    factory = use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
    sid = await new_session(client, user, agent="personal")
    assert text_of(await say(client, user, sid, "first")) == "One."
    before = await counted(client, user)
    await delete_elsewhere(sid)

    gone = await post(client, user, sid, "second")
    assert_error(gone, 404, "CHAT_SESSION_NOT_FOUND")
    assert (
        await ChatMessage.get_pymongo_collection().count_documents({"session_id": ObjectId(sid)})
        == 0
    )
    assert await counted(client, user) == before  # a message to no session never counts
    assert not await locked(client, sid)
    assert len(factory.default.calls) == 1
    # Forgotten: the next attempt is looked up again, and still 404.
    assert_error(await post(client, user, sid, "third"), 404, "CHAT_SESSION_NOT_FOUND")


async def test_a_known_session_deleted_elsewhere_is_404_before_429(app_factory):
    """With the checks one after another a deleted session answered 404 before the rate
    limit was counted; a known session must not turn that into a 429."""
    async with app_factory(chat_messages_per_minute=1) as client:
        user = await register(client)
        use_script(client, ScriptedLLMFactory([reply("One.")]))
        sid = await new_session(client, user, agent="personal")
        await say(client, user, sid, "first")
        assert_error(await post(client, user, sid, "limited"), 429, "RATE_LIMITED")
        await delete_elsewhere(sid)
        assert_error(await post(client, user, sid, "gone"), 404, "CHAT_SESSION_NOT_FOUND")
        assert await counted(client, user) == 2  # the 429 counted, the 404 did not


async def test_refusals_on_a_known_session_leave_it_unlocked(client):
    user = await verified_user(client)
    factory = use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
    sid = await new_session(client, user, agent="personal")
    await say(client, user, sid, "first")

    # An approval asked by a run elsewhere (another process): every run takes the lock
    # first, which un-settles the thread, so this process looks the approvals up again.
    chat = services(client).chat
    elsewhere = await chat.locks.take(sid)
    assert elsewhere is not None
    approvals = ChatApproval.get_pymongo_collection()
    await approvals.insert_one(
        ChatApproval(
            approval_id="a1",
            session_id=ObjectId(sid),
            user_id=ObjectId(user["user"]["id"]),
            agent="personal",
            tool="wallet_transfer",
        ).model_dump(exclude={"id"})
    )
    await chat.locks.release(sid, elsewhere)
    assert_error(await post(client, user, sid, "blocked"), 409, "APPROVAL_PENDING")
    assert not await locked(client, sid)
    await approvals.delete_many({"session_id": ObjectId(sid)})

    factory.available = False
    assert_error(await post(client, user, sid, "no model"), 503, "LLM_UNAVAILABLE")
    assert not await locked(client, sid)
    factory.available = True

    assert text_of(await say(client, user, sid, "second")) == "Two."
    stored = await ChatMessage.get_pymongo_collection().count_documents(
        {"session_id": ObjectId(sid)}
    )
    assert stored == 4  # the refused messages were never stored
    session = await client.get(f"{CHAT}/sessions/{sid}", headers=user["headers"])
    assert session.json()["messageCount"] == 4


async def test_refused_as_not_found_or_unknown_agent_never_counts(app_factory):
    async with app_factory(chat_messages_per_minute=2) as client:
        alice = await register(client)
        bob = await register(client)
        use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
        sid = await new_session(client, alice, agent="personal")
        await say(client, alice, sid, "first")  # known to this process from now on
        for _ in range(3):
            assert_error(
                await post(client, alice, str(ObjectId()), "nowhere"),
                404,
                "CHAT_SESSION_NOT_FOUND",
            )
            assert_error(await post(client, alice, sid, "who?", agent="hal"), 422, "UNKNOWN_AGENT")
            # Someone else's known session is not theirs: 404, nothing stored, nothing held.
            assert_error(await post(client, bob, sid, "mine?"), 404, "CHAT_SESSION_NOT_FOUND")
        assert await counted(client, alice) == 1
        assert await counted(client, bob) == 0
        assert not await locked(client, sid)
        assert text_of(await say(client, alice, sid, "second")) == "Two."
        assert_error(await post(client, alice, sid, "third"), 429, "RATE_LIMITED")
        contents = [
            m["content"]
            for m in await ChatMessage.get_pymongo_collection()
            .find({"session_id": ObjectId(sid), "role": "user"})
            .sort("_id", 1)
            .to_list()
        ]
        assert contents == ["first", "second"]


async def test_a_rate_limited_voice_turn_is_refused_aloud(app_factory):
    """The voice agent goes through the same opener: its second turn (a known session) over
    the limit is refused with the same error, spoken."""
    from tests.integration.test_voice_agent import say as speak
    from tests.integration.test_voice_agent import text_session
    from tests.voice_support import LIVEKIT, start_voice, voice_turns

    async with app_factory(chat_messages_per_minute=1, **LIVEKIT) as client:
        user = await register(client)
        use_script(client, ScriptedLLMFactory([reply("One."), reply("Two.")]))
        voice = await start_voice(client, user, agent="personal")
        async with text_session(voice_turns(client, voice)) as (session, _):
            assert await speak(session, "first") == "One."
            assert await speak(session, "second") == SPOKEN_ERRORS["RATE_LIMITED"]
        assert not await locked(client, voice.chat_session_id)


async def test_the_settled_mark_follows_the_runs(client):
    """Settled (the next turn skips the approvals lookup and trusts the warm checkpoint)
    only after a complete run, at the checkpoint it wrote; a run that asks an approval, any
    lock taken and any write to the thread clear it."""
    from agents.checkpoint import MongoCheckpointSaver, settled_key
    from agents.scripted import call
    from tests.integration.wallet_support import admin, mint

    alice = await verified_user(client)
    bob = await verified_user(client)
    await mint(client, await admin(client), alice["user"]["username"], 100)
    transfer = call("wallet_transfer", {"to_username": bob["user"]["username"], "amount": 5})
    use_script(client, ScriptedLLMFactory([reply("Hi."), transfer, reply("Hi again.")]))
    chat = services(client).chat
    redis = services(client).redis
    sid = await new_session(client, alice, agent="personal")

    await say(client, alice, sid, "hello")
    mark = await redis.get(settled_key(sid))
    assert mark is not None and mark.decode() == chat.checkpointer.warm_id(sid)

    await say(client, alice, sid, "send bob 5")  # ends awaiting the approval
    assert await redis.get(settled_key(sid)) is None
    assert_error(await post(client, alice, sid, "hi?"), 409, "APPROVAL_PENDING")
    await ChatApproval.get_pymongo_collection().delete_many({"session_id": ObjectId(sid)})

    await say(client, alice, sid, "hello again")
    assert await redis.get(settled_key(sid)) is not None
    token = await chat.locks.take(sid)
    assert token is not None and await redis.get(settled_key(sid)) is None
    await chat.locks.release(sid, token)

    await chat.checkpointer.settle(sid)
    elsewhere = MongoCheckpointSaver(chat.checkpointer.checkpoints.database, redis=redis)
    latest = await elsewhere.aget_tuple({"configurable": {"thread_id": sid}})
    assert latest is not None
    await elsewhere.aput_writes(latest.config, [("note", "x")], task_id="t")
    assert await redis.get(settled_key(sid)) is None
