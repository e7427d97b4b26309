"""What an agent does reaches the other user's WebSocket: the real gateway (issue 5) on a
real uvicorn server, a `websockets` client, and a transfer made by an agent after approval."""

from __future__ import annotations

import httpx
import pytest
import websockets

from agents.scripted import ScriptedLLMFactory, call, reply
from server.app import create_app
from server.core.actor import Actor
from server.wallet.schemas import MintRequest, Party
from tests.agents_support import Served, decide, new_session, of, say
from tests.e2e.realtime_support import ORIGIN, recv, recv_events, subscribe
from tests.helpers import register

pytestmark = pytest.mark.e2e


async def test_agent_transfer_event_reaches_the_recipients_websocket(settings_factory, redis):
    app = create_app(settings_factory(wallet_require_verified_email=False))
    async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        services = app.state["services"]
        alice = await register(client)
        bob = await register(client)
        await services.wallet.mint(
            Actor.system(),
            MintRequest(to=Party(username=alice["user"]["username"]), amount=50, reason="funds"),
            idempotency_key="e2e-chat-funds",
        )
        services.chat.llm_factory = ScriptedLLMFactory(
            [
                call("wallet_transfer", {"to_username": bob["user"]["username"], "amount": 20}),
                reply("Sent 20 tokens to Bob."),
            ]
        )
        ticket = await client.post("/api/v1/realtime/ticket", headers=bob["headers"])
        assert ticket.status_code == 201, ticket.text
        ws_url = server.url.replace("http", "ws") + f"/ws?ticket={ticket.json()['ticket']}"
        async with websockets.connect(ws_url, origin=ORIGIN) as ws:  # type: ignore[arg-type]
            assert (await recv(ws))["type"] == "ready"
            await subscribe(ws, f"user:{bob['user']['id']}")

            sid = await new_session(client, alice, agent="personal")
            events = await say(client, alice, sid, "send 20 tokens to bob")
            approval = of(events, "approval_required")[0]
            resumed = await decide(client, alice, sid, approval["approvalId"], True)
            assert of(resumed, "tool.end")[0]["status"] == "ok"

            (event,) = await recv_events(ws, 1)
    assert event["type"] == "wallet.transfer_completed"
    assert event["channel"] == f"user:{bob['user']['id']}"
    assert event["data"]["balance"] == 20 and event["data"]["transfer"]["amount"] == 20
