"""Chat limits and failure paths: message size, rate, tool steps, trimmed tool results,
the keyword fallback of the router, busy and foreign sessions, restarts."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agents.scripted import ScriptedLLMFactory, call, reply
from tests.agents_support import CHAT, decide, kinds, new_session, of, say, text_of, use_script
from tests.helpers import assert_error, register
from tests.integration.wallet_support import admin, balance, mint, verified_user

pytestmark = pytest.mark.integration


async def test_message_length_limit(client):
    user = await register(client)
    use_script(client, ScriptedLLMFactory([reply("ok")]))
    sid = await new_session(client, user, agent="personal")
    too_long = await client.post(
        f"{CHAT}/sessions/{sid}/messages", json={"content": "x" * 10_001}, headers=user["headers"]
    )
    assert_error(too_long, 422, "MESSAGE_TOO_LONG")
    events = await say(client, user, sid, "y" * 10_000)
    assert of(events, "message.end")[0]["status"] == "complete"


async def test_messages_per_minute_limit(app_factory):
    async with app_factory(chat_messages_per_minute=2) as client:
        user = await register(client)
        use_script(client, ScriptedLLMFactory([reply("one"), reply("two")]))
        sid = await new_session(client, user, agent="personal")
        await say(client, user, sid, "first")
        await say(client, user, sid, "second")
        third = await client.post(
            f"{CHAT}/sessions/{sid}/messages", json={"content": "third"}, headers=user["headers"]
        )
        error = assert_error(third, 429, "RATE_LIMITED")
        assert third.headers["Retry-After"] and error["details"][0]["retryAfter"] >= 1


async def test_tool_steps_are_bounded(app_factory):
    async with app_factory(agent_max_tool_steps=2) as client:
        user = await register(client)
        use_script(client, ScriptedLLMFactory([call("wallet_balance")] * 3))
        sid = await new_session(client, user, agent="personal")
        events = await say(client, user, sid, "loop forever")
    assert kinds(events) == [
        "message.start",
        "tool.start",
        "tool.end",
        "tool.start",
        "tool.end",
        "token",
        "message.end",
    ]
    assert "stopped after 2 tool steps" in text_of(events)


async def test_tool_results_are_trimmed_before_the_model_sees_them(app_factory):
    async with app_factory(agent_tool_result_max_chars=1000) as client:
        boss = await admin(client)
        user = await verified_user(client)
        for _ in range(5):
            await mint(client, boss, user["user"]["username"], 10)
        factory = use_script(
            client, ScriptedLLMFactory([call("wallet_history", {"limit": 20}), reply("Done.")])
        )
        sid = await new_session(client, user, agent="personal")
        events = await say(client, user, sid, "my history")
    result = of(events, "tool.end")[0]["result"]
    assert len(result) <= 1000 and "items left out" in result
    seen_by_model = factory.default.calls[-1][-1].content
    assert seen_by_model == result


async def test_router_falls_back_to_keywords_when_the_llm_fails(client):
    user = await register(client)

    def broken(messages):
        raise RuntimeError("router model failed")

    use_script(
        client,
        ScriptedLLMFactory([reply("You have one session.")], per_agent={"router": [broken]}),
    )
    sid = await new_session(client, user)
    events = await say(client, user, sid, "which devices are signed in to my account?")
    start = of(events, "message.start")[0]
    assert (start["agent"], start["routedBy"]) == ("security", "keywords")


async def test_unknown_agent_foreign_session_and_busy_session(client):
    alice = await register(client)
    bob = await register(client)
    bad = await client.post(f"{CHAT}/sessions", json={"agent": "hal"}, headers=alice["headers"])
    assert_error(bad, 422, "UNKNOWN_AGENT")
    sid = await new_session(client, alice, agent="personal")
    for method, path in (
        ("GET", f"{CHAT}/sessions/{sid}"),
        ("GET", f"{CHAT}/sessions/{sid}/messages"),
        ("DELETE", f"{CHAT}/sessions/{sid}"),
    ):
        assert_error(
            await client.request(method, path, headers=bob["headers"]),
            404,
            "CHAT_SESSION_NOT_FOUND",
        )

    use_script(client, ScriptedLLMFactory([reply("slow answer")], ttft=1.0))
    first = asyncio.create_task(say(client, alice, sid, "first"))
    await asyncio.sleep(0.3)
    busy = await client.post(
        f"{CHAT}/sessions/{sid}/messages", json={"content": "second"}, headers=alice["headers"]
    )
    assert_error(busy, 409, "SESSION_BUSY")
    assert text_of(await first) == "slow answer"

    listed = await client.get(f"{CHAT}/sessions", headers=alice["headers"])
    assert [s["id"] for s in listed.json()["items"]] == [sid]
    assert listed.json()["items"][0]["title"] == "first"
    deleted = await client.delete(f"{CHAT}/sessions/{sid}", headers=alice["headers"])
    assert deleted.status_code == 204
    assert (await client.get(f"{CHAT}/sessions", headers=alice["headers"])).json()["items"] == []


async def test_a_pending_approval_survives_a_restart(app_factory):
    """The graph is paused in a MongoDB checkpoint: a new app (another process) resumes it."""
    db = f"test_{uuid.uuid4().hex[:12]}"
    async with app_factory(mongodb_db=db) as client:
        boss = await admin(client)
        alice = await verified_user(client)
        bob = await verified_user(client)
        await mint(client, boss, alice["user"]["username"], 50)
        use_script(
            client,
            ScriptedLLMFactory(
                [call("wallet_transfer", {"to_username": bob["user"]["username"], "amount": 5})]
            ),
        )
        sid = await new_session(client, alice, agent="personal")
        events = await say(client, alice, sid, "send bob 5")
        approval_id = of(events, "approval_required")[0]["approvalId"]

    async with app_factory(mongodb_db=db) as client:
        use_script(client, ScriptedLLMFactory([reply("Sent 5 tokens.")]))
        session = await client.get(f"{CHAT}/sessions/{sid}", headers=alice["headers"])
        assert [a["id"] for a in session.json()["pendingApprovals"]] == [approval_id]
        resumed = await decide(client, alice, sid, approval_id, True)
        assert of(resumed, "tool.end")[0]["status"] == "ok"
        assert text_of(resumed) == "Sent 5 tokens."
        assert await balance(client, alice) == 45
        assert await balance(client, bob) == 5
