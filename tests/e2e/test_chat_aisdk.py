"""The chat in the Vercel AI SDK UI message stream protocol (issue 17 part 2): our raw
frames, and the npm package `ai` itself (its `DefaultChatTransport`, which validates every
frame with the package's schema, `readUIMessageStream` and `validateUIMessages`) consuming a
scripted chat with a tool call and an approval answered from the AI SDK side."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from agents.scripted import ScriptedLLMFactory, call, reply
from server.app import create_app
from server.core.actor import Actor
from server.wallet.schemas import MintRequest, Party
from tests.agents_support import CHAT, Served, new_session
from tests.clients.node_tools import run_node
from tests.helpers import register

pytestmark = pytest.mark.e2e


def frames(body: str) -> list[Any]:
    out: list[Any] = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            text = block[len("data: ") :]
            out.append(text if text == "[DONE]" else json.loads(text))
    return out


async def setup(client: httpx.AsyncClient, app: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    services = app.state["services"]
    alice = await register(client)
    bob = await register(client)
    await services.wallet.mint(
        Actor.system(),
        MintRequest(to=Party(username=alice["user"]["username"]), amount=50, reason="funds"),
        idempotency_key=f"aisdk-{alice['user']['id']}",
    )
    services.chat.llm_factory = ScriptedLLMFactory(
        [
            call("wallet_transfer", {"to_username": bob["user"]["username"], "amount": 20}),
            reply("Sent 20 tokens to Bob."),
        ]
    )
    return alice, bob


async def test_accept_parameter_selects_the_ai_sdk_stream(settings_factory, redis):
    app = create_app(settings_factory(wallet_require_verified_email=False))
    async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        alice, _ = await setup(client, app)
        sid = await new_session(client, alice, agent="personal")
        r = await client.post(
            f"{CHAT}/sessions/{sid}/messages",
            json={"content": "send 20 tokens to bob"},
            headers={**alice["headers"], "Accept": "text/event-stream; protocol=ai-sdk"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        got = frames(r.text)
        own = await client.get(f"{CHAT}/sessions/{sid}", headers=alice["headers"])
    assert got[-1] == "[DONE]"
    types = [f["type"] for f in got[:-1]]
    assert types[:2] == ["start", "start-step"]
    assert types[-4:] == ["tool-input-available", "tool-approval-request", "finish-step", "finish"]
    request = got[-4]
    (pending,) = own.json()["pendingApprovals"]
    assert request["approvalId"] == request["toolCallId"] == pending["id"]
    assert got[-2]["finishReason"] == "tool-calls"


async def test_the_ai_sdk_package_consumes_a_chat_with_an_approval(settings_factory, redis):
    app = create_app(settings_factory(wallet_require_verified_email=False))
    async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        alice, _ = await setup(client, app)
        sid = await new_session(client, alice, agent="personal")
        url = f"{server.url}{CHAT}/sessions/{sid}/messages?protocol=ai-sdk"
        done = await asyncio.to_thread(
            run_node, "ai-sdk", "chat.mjs", url, alice["accessToken"], "send 20 tokens to bob"
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        balance = await client.get("/api/v1/wallet", headers=alice["headers"])
        stored = await client.get(f"{CHAT}/sessions/{sid}/messages", headers=alice["headers"])
    first = [p for p in result["first"]["parts"] if p["type"] == "tool-wallet_transfer"]
    assert first and first[0]["state"] == "approval-requested"
    resumed = result["resumed"]["parts"]
    tool = [p for p in resumed if p["type"] == "tool-wallet_transfer"][-1]
    assert tool["state"] == "output-available"
    assert tool["output"]["transfer"]["amount"] == 20
    text = "".join(p["text"] for p in resumed if p["type"] == "text")
    assert text == "Sent 20 tokens to Bob."
    assert balance.json()["balance"] == 30
    # Our own format stored the same answer: the text and the tool's status.
    latest = stored.json()["items"][0]
    assert latest["content"] == text and latest["tools"] == [
        {"tool": "wallet_transfer", "status": "ok"}
    ]
    assert (
        "tool-approval-request" in result["chunks"] and "tool-output-available" in result["chunks"]
    )


async def test_the_ai_sdk_package_reads_citations_as_source_documents(settings_factory, redis):
    """Issue 13 part 5: each `citation` of a knowledge answer reaches `useChat` as a
    `source-document` part the package accepts, with our citation in its provider metadata."""
    from server import jobs

    app = create_app(settings_factory(wallet_require_verified_email=False))
    async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        services = app.state["services"]
        alice = await register(client)
        created = await client.post(
            "/api/v1/notes",
            json={
                "title": "Zebras",
                "body": "# Budget\n\nThe zebra sanctuary budget is forty thousand euros.\n",
            },
            headers=alice["headers"],
        )
        note = created.json()
        await jobs.index_note({"services": services}, note_id=note["id"])
        services.chat.llm_factory = ScriptedLLMFactory(
            [
                call("notes_search", {"query": "zebra sanctuary budget"}),
                reply("Forty thousand euros [1]."),
            ]
        )
        sid = await new_session(client, alice, agent="knowledge")
        url = f"{server.url}{CHAT}/sessions/{sid}/messages?protocol=ai-sdk"
        done = await asyncio.to_thread(
            run_node, "ai-sdk", "chat.mjs", url, alice["accessToken"], "what did I write?"
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        body = (await client.get(f"/api/v1/notes/{note['id']}", headers=alice["headers"])).json()
    parts = result["first"]["parts"]
    (source,) = [p for p in parts if p["type"] == "source-document"]
    assert source["sourceId"] == "1" and source["title"] == "Zebras"
    cite = source["providerMetadata"]["secondBrain"]
    assert cite["noteId"] == note["id"] and cite["index"] == 1
    assert body["body"][cite["start"] : cite["end"]].startswith("The zebra sanctuary budget")
    assert "".join(p["text"] for p in parts if p["type"] == "text") == "Forty thousand euros [1]."
    assert result["resumed"] is None and "source-document" in result["chunks"]
