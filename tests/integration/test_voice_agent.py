"""The voice agent in text mode: a LiveKit `AgentSession` whose LLM is the LangGraph chat
agent (scripted model), acting on the real managers and database as the user."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

import pytest
from livekit.agents import AgentSession
from livekit.plugins.langchain import LLMAdapter

from agents.documents import ChatApproval, ChatMessage
from agents.scripted import ScriptedLLMFactory, call, reply
from agents.voice.identity import VoiceIdentityError, resolve_actor
from agents.voice.llm import VoiceGraphLLM
from agents.voice.session import VoiceAgent
from agents.voice.transcripts import TranscriptPublisher
from agents.voice.turns import VoiceTurns
from tests.agents_support import decide, use_script
from tests.helpers import assert_error, register, services
from tests.integration.groups_support import BASES, family_with
from tests.integration.wallet_support import balance
from tests.voice_support import (
    LIVEKIT,
    VOICE,
    VoiceCall,
    events_of,
    funded_pair,
    start_voice,
    voice_turns,
)

pytestmark = pytest.mark.integration


@asynccontextmanager
async def text_session(turns: VoiceTurns):
    session: AgentSession[Any] = AgentSession(llm=VoiceGraphLLM(turns))
    publisher = TranscriptPublisher(services=turns.services, turns=turns)
    publisher.attach(session)
    await session.start(VoiceAgent())
    try:
        yield session, publisher
    finally:
        await session.aclose()
        await turns.aclose()
        await publisher.aclose()


async def say(session: AgentSession[Any], text: str) -> str:
    """One spoken turn in text mode; returns what the agent said."""
    result: Any = await session.run(user_input=text)
    message = result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()
    return message.event().item.text_content or ""


async def test_balance_answer_is_spoken_without_the_tool_result(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice, _ = await funded_pair(client, 100)
        use_script(
            client,
            ScriptedLLMFactory([call("wallet_balance"), reply("You have 100 tokens.")]),
        )
        voice = await start_voice(client, alice, agent="personal")
        async with text_session(voice_turns(client, voice)) as (session, publisher):
            spoken = await say(session, "what's my balance?")
            await publisher.drain()
        assert spoken == "You have 100 tokens."
        assert "balance" not in spoken.lower().replace("100 tokens", "")
        # The turn joined the chat session, both sides marked as spoken.
        stored = (
            await ChatMessage.get_pymongo_collection()
            .find({"session_id": _oid(voice.chat_session_id)})
            .sort("_id", 1)
            .to_list()
        )
        assert [(m["role"], m.get("channel")) for m in stored] == [
            ("user", "voice"),
            ("assistant", "voice"),
        ]
        assert stored[0]["content"] == "what's my balance?"
        assert stored[1]["content"] == "You have 100 tokens."
        assert stored[1]["tools"] == [{"tool": "wallet_balance", "status": "ok"}]
        # ... and was pushed live to the user's channel.
        live = await events_of(client, alice, "voice.transcript")
        assert [(e["role"], e["text"]) for e in live] == [
            ("user", "what's my balance?"),
            ("assistant", "You have 100 tokens."),
        ]
        assert live[1]["messageId"] == str(stored[1]["_id"])
        assert all(e["chatSessionId"] == voice.chat_session_id for e in live)


async def test_stock_langchain_adapter_would_read_the_tool_result_aloud(app_factory):
    """Regression: livekit-plugins-langchain's LLMAdapter streams every message of the graph
    in "messages" mode, tool output included, so the balance JSON was spoken. VoiceGraphLLM
    speaks only the answering node's tokens (previous test); this pins the trap itself."""
    async with app_factory(**LIVEKIT) as client:
        alice, _ = await funded_pair(client, 100)
        use_script(
            client,
            ScriptedLLMFactory([call("wallet_balance"), reply("You have 100 tokens.")]),
        )
        voice = await start_voice(client, alice, agent="personal")
        graph = services(client).chat.graph_for("personal", voice.actor)
        stock = LLMAdapter(graph, config={"configurable": {"thread_id": voice.chat_session_id}})
        session: AgentSession[Any] = AgentSession(llm=stock)
        await session.start(VoiceAgent())
        try:
            spoken = await say(session, "what's my balance?")
        finally:
            await session.aclose()
        assert '"balance":100' in spoken.replace(" ", "")


async def test_transfer_asks_aloud_and_moves_tokens_after_a_spoken_yes(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 20}),
                    reply("Done: I sent 20 tokens."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        async with text_session(voice_turns(client, voice)) as (session, publisher):
            question = await say(session, f"send 20 tokens to {bob_name}")
            assert "wallet transfer" in question and bob_name in question and "20" in question
            assert question.endswith("Say yes or no.")
            assert await balance(client, alice) == 100  # nothing moved yet

            asked = await events_of(client, alice, "voice.approval_required")
            assert len(asked) == 1 and asked[0]["tool"] == "wallet_transfer"
            assert asked[0]["args"] == {"to_username": bob_name, "amount": 20}
            assert asked[0]["answerPath"].startswith(f"{VOICE}/sessions/{voice.chat_session_id}/")

            assert await say(session, "yes, go ahead") == "Done: I sent 20 tokens."
            await publisher.drain()
        assert await balance(client, alice) == 80
        assert await balance(client, bob) == 20
        approval = await ChatApproval.find_one({"approval_id": asked[0]["approvalId"]})
        assert approval is not None and approval.status == "approved"
        resolved = await events_of(client, alice, "voice.approval_resolved")
        assert [(r["approved"], r["by"]) for r in resolved] == [(True, "voice")]
        # The spoken "yes" is part of the conversation too.
        users = (
            await ChatMessage.get_pymongo_collection()
            .find({"session_id": _oid(voice.chat_session_id), "role": "user"})
            .sort("_id", 1)
            .to_list()
        )
        assert [(m["content"], m.get("channel")) for m in users] == [
            (f"send 20 tokens to {bob_name}", "voice"),
            ("yes, go ahead", "voice"),
        ]


async def test_a_spoken_no_refuses_and_nothing_moves(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        factory = use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 20}),
                    reply("Okay, I did not send anything."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        async with text_session(voice_turns(client, voice)) as (session, _):
            await say(session, f"send 20 tokens to {bob_name}")
            unclear = await say(session, "hmm, let me think")
            assert unclear.startswith("Sorry, I need a yes or a no.")
            assert await say(session, "no, don't") == "Okay, I did not send anything."
        assert await balance(client, alice) == 100
        assert await balance(client, bob) == 0
        # The model saw the refusal as the tool's result.
        last_prompt = factory.default.calls[-1]
        assert "DENIED" in str(last_prompt[-1].content)


async def test_a_members_voice_agent_cannot_freeze_the_family_wallet(app_factory):
    async with app_factory(**LIVEKIT) as client:
        family_admin, [member], family_id = await family_with(client, members=1)
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("family_freeze", {"group": family_id, "reason": "lost card"}),
                    lambda messages: reply("I couldn't: " + str(messages[-1].content)[:200]),
                ]
            ),
        )
        voice = await start_voice(client, member, agent="family")
        async with text_session(voice_turns(client, voice)) as (session, _):
            await say(session, "freeze the family wallet")
            answer = await say(session, "yes")
        assert "FAMILY_ADMIN_REQUIRED" in answer
        wallet = await client.get(
            f"{BASES['family']}/{family_id}/wallet", headers=family_admin["headers"]
        )
        assert wallet.status_code == 200 and wallet.json()["frozen"] is False


async def test_a_tap_in_the_app_answers_the_spoken_question(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 30}),
                    reply("Sent 30 tokens."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        turns = voice_turns(client, voice)
        spoken_after_tap: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        speaking: list[asyncio.Task[None]] = []

        def speak(stream: Any) -> None:
            async def collect() -> None:
                spoken_after_tap.set_result("".join([p async for p in stream]))

            speaking.append(asyncio.ensure_future(collect()))

        turns.on_external_answer = speak
        async with text_session(turns) as (session, _):
            await say(session, f"send 30 tokens to {bob_name}")
            [asked] = await events_of(client, alice, "voice.approval_required")
            path = asked["answerPath"]

            # Someone else cannot answer it.
            mallory = await register(client)
            response = await client.post(path, json={"approve": True}, headers=mallory["headers"])
            assert_error(response, 404, "APPROVAL_NOT_FOUND")

            response = await client.post(path, json={"approve": True}, headers=alice["headers"])
            assert response.status_code == 200, response.text
            assert response.json() == {
                "approvalId": asked["approvalId"],
                "approved": True,
                "by": "tap",
            }
            assert await asyncio.wait_for(spoken_after_tap, 10) == "Sent 30 tokens."
            again = await client.post(path, json={"approve": False}, headers=alice["headers"])
            assert_error(again, 409, "APPROVAL_DECIDED")
        assert await balance(client, alice) == 70
        assert await balance(client, bob) == 30


async def test_an_approval_answered_in_the_text_chat_is_noticed_by_voice(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 10}),
                    reply("Sent 10 tokens."),
                    reply("Your balance is 90 tokens."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        turns = voice_turns(client, voice)
        turns.POLL_SECONDS = 0.2
        told: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        collecting: list[asyncio.Task[None]] = []

        def speak(stream: Any) -> None:
            async def collect() -> None:
                told.set_result("".join([p async for p in stream]))

            collecting.append(asyncio.ensure_future(collect()))

        turns.on_external_answer = speak
        async with text_session(turns) as (session, _):
            await say(session, f"send 10 tokens to {bob_name}")
            [asked] = await events_of(client, alice, "voice.approval_required")
            # The user answers in the chat UI instead (issue 7's endpoint runs the resume).
            events = await decide(client, alice, voice.chat_session_id, asked["approvalId"], True)
            assert events[-1][0] == "message.end"
            assert await asyncio.wait_for(told, 10) == "You answered that in the app."
            # The conversation goes on normally: the next utterance is a new message.
            assert await say(session, "what's my balance now?") == "Your balance is 90 tokens."
        assert await balance(client, alice) == 90


async def test_a_voice_approval_decided_in_the_text_chat_answers_a_tap_409(app_factory):
    """Issue 11 part 6: the voice tap consulted only its Redis broker, not the one approvals
    store, so an approval already answered in the text chat could be "decided" a second time
    by a tap (200 `by: tap`). Now every later answer gets 409 `APPROVAL_DECIDED`."""
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 10}),
                    reply("Sent 10 tokens."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        turns = voice_turns(client, voice)
        turns.POLL_SECONDS = 0.2
        async with text_session(turns) as (session, _):
            await say(session, f"send 10 tokens to {bob_name}")
            [asked] = await events_of(client, alice, "voice.approval_required")
            events = await decide(client, alice, voice.chat_session_id, asked["approvalId"], True)
            assert events[-1][0] == "message.end"
            mallory = await register(client)
            stranger = await client.post(
                asked["answerPath"], json={"approve": False}, headers=mallory["headers"]
            )
            assert_error(stranger, 404, "APPROVAL_NOT_FOUND")
            tap = await client.post(
                asked["answerPath"], json={"approve": False}, headers=alice["headers"]
            )
            assert_error(tap, 409, "APPROVAL_DECIDED")
        assert await balance(client, alice) == 90


async def test_worker_refuses_a_participant_who_is_not_the_user(app_factory):
    async with app_factory(**LIVEKIT) as client:
        alice = await register(client)
        bob = await register(client)
        voice: VoiceCall = await start_voice(client, alice)
        with pytest.raises(VoiceIdentityError):
            await resolve_actor(services(client), voice.meta, bob["user"]["id"])
        # A revoked login session ends the voice agent's right to act too.
        logout = await client.post("/api/v1/auth/logout", headers=alice["headers"])
        assert logout.status_code in (200, 204), logout.text
        with pytest.raises(VoiceIdentityError):
            await resolve_actor(services(client), voice.meta, alice["user"]["id"])


def _oid(value: str) -> Any:
    from bson import ObjectId

    return ObjectId(value)
