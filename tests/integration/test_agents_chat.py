"""The chat API end to end in-process: sessions, SSE events, tools through the managers."""

from __future__ import annotations

import pytest

from agents.scripted import ScriptedLLMFactory, call, reply
from tests.agents_support import CHAT, decide, kinds, new_session, of, say, text_of, use_script
from tests.helpers import assert_error
from tests.integration.wallet_support import admin, balance, mint, verified_user

pytestmark = pytest.mark.integration


async def test_personal_agent_reads_balance_and_streams_tokens(client):
    user = await verified_user(client)
    factory = use_script(
        client,
        ScriptedLLMFactory([call("wallet_balance"), reply("You have 0 tokens in your wallet.")]),
    )
    sid = await new_session(client, user, agent="personal")
    events = await say(client, user, sid, "what's my balance?")

    assert kinds(events) == ["message.start", "tool.start", "tool.end", "token", "message.end"]
    start = of(events, "message.start")[0]
    assert start["agent"] == "personal" and start["sessionId"] == sid
    tool_end = of(events, "tool.end")[0]
    assert tool_end["tool"] == "wallet_balance" and tool_end["status"] == "ok"
    assert '"balance":0' in tool_end["result"]
    assert text_of(events) == "You have 0 tokens in your wallet."
    assert len(of(events, "token")) > 1  # token-level, not one blob
    end = of(events, "message.end")[0]
    assert end["status"] == "complete"
    assert end["usage"]["promptTokens"] > 0 and end["usage"]["completionTokens"] > 0
    # The personal agent's tools only were offered to the model.
    assert "wallet_transfer" in factory.default.bound_tools[0]
    assert "family_freeze" not in factory.default.bound_tools[0]

    history = await client.get(f"{CHAT}/sessions/{sid}/messages", headers=user["headers"])
    items = history.json()["items"]
    assert [m["role"] for m in items] == ["assistant", "user"]
    assert items[0]["content"] == "You have 0 tokens in your wallet."
    assert items[0]["tools"] == [{"tool": "wallet_balance", "status": "ok"}]


async def test_transfer_pauses_for_approval_then_moves_tokens(client):
    alice = await verified_user(client)
    bob = await verified_user(client)
    await mint(client, await admin(client), alice["user"]["username"], 100)
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("wallet_transfer", {"to_username": bob["user"]["username"], "amount": 20}),
                reply("Sent 20 tokens."),
            ]
        ),
    )
    sid = await new_session(client, alice, agent="personal")
    events = await say(client, alice, sid, f"send 20 tokens to {bob['user']['username']}")

    assert kinds(events) == ["message.start", "approval_required", "message.end"]
    approval = of(events, "approval_required")[0]
    assert approval["tool"] == "wallet_transfer"
    assert approval["args"] == {"to_username": bob["user"]["username"], "amount": 20}
    assert of(events, "message.end")[0]["status"] == "awaiting_approval"
    assert await balance(client, alice) == 100  # nothing moved yet

    session = await client.get(f"{CHAT}/sessions/{sid}", headers=alice["headers"])
    assert [a["id"] for a in session.json()["pendingApprovals"]] == [approval["approvalId"]]
    # A new message waits for the answer.
    blocked = await client.post(
        f"{CHAT}/sessions/{sid}/messages", json={"content": "hi"}, headers=alice["headers"]
    )
    assert_error(blocked, 409, "APPROVAL_PENDING")

    resumed = await decide(client, alice, sid, approval["approvalId"], True)
    assert kinds(resumed) == ["message.start", "tool.start", "tool.end", "token", "message.end"]
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    assert text_of(resumed) == "Sent 20 tokens."
    assert await balance(client, alice) == 80
    assert await balance(client, bob) == 20

    again = await client.post(
        f"{CHAT}/sessions/{sid}/approvals/{approval['approvalId']}",
        json={"approve": True},
        headers=alice["headers"],
    )
    assert_error(again, 409, "APPROVAL_DECIDED")
