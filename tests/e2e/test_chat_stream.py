"""The chat SSE stream over real HTTP (uvicorn) read by a real SSE client: event order, JSON
bodies, and a client disconnect that cancels the LLM call and keeps the partial answer."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from httpx_sse import aconnect_sse

from agents.documents import ChatMessage
from agents.scripted import ScriptedLLMFactory, call, reply
from server.app import create_app
from tests.agents_support import Served, new_session
from tests.e2e.ollama_standin import OllamaStandIn, answer
from tests.helpers import register

pytestmark = pytest.mark.e2e


async def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_sse_order_and_json_bodies_over_http(settings_factory, redis):
    app = create_app(settings_factory())
    async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        app.state["services"].chat.llm_factory = ScriptedLLMFactory(
            [call("wallet_history", {"limit": 5}), reply("No transfers yet.")]
        )
        user = await register(client)
        sid = await new_session(client, user, agent="personal")
        raw: list[tuple[str, str]] = []
        async with aconnect_sse(
            client,
            "POST",
            f"/api/v1/chat/sessions/{sid}/messages",
            json={"content": "show my history"},
            headers=user["headers"],
        ) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            assert source.response.headers["cache-control"] == "no-cache"
            raw = [(sse.event, sse.data) async for sse in source.aiter_sse()]

    names = [name for name, _ in raw]
    assert names[:3] == ["message.start", "tool.start", "tool.end"]
    assert set(names[3:-1]) == {"token"} and names[-1] == "message.end"
    bodies = [json.loads(data) for _, data in raw]  # every data line is JSON
    assert bodies[1] == {
        "toolCallId": bodies[1]["toolCallId"],
        "tool": "wallet_history",
        "args": {"limit": 5},
    }
    assert "".join(b["text"] for n, b in zip(names, bodies, strict=True) if n == "token") == (
        "No transfers yet."
    )
    assert bodies[-1]["status"] == "complete" and set(bodies[-1]["usage"]) == {
        "promptTokens",
        "completionTokens",
    }


async def test_disconnect_cancels_the_llm_call_and_stores_the_partial_answer(
    settings_factory, redis
):
    words = " ".join(f"word{i}" for i in range(200))
    standin = OllamaStandIn([answer(words)], chunk_delay=0.05)
    async with Served(standin) as ollama:
        app = create_app(settings_factory(ollama_url=ollama.url))
        async with Served(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            user = await register(client)
            sid = await new_session(client, user, agent="personal")
            seen: list[str] = []
            async with aconnect_sse(
                client,
                "POST",
                f"/api/v1/chat/sessions/{sid}/messages",
                json={"content": "tell me a long story"},
                headers=user["headers"],
            ) as source:
                async for sse in source.aiter_sse():
                    if sse.event == "token":
                        seen.append(json.loads(sse.data)["text"])
                    if len(seen) == 5:
                        break
            closed_at = time.monotonic()

            async def ollama_saw_disconnect() -> bool:
                return standin.disconnected_at is not None

            await _wait(ollama_saw_disconnect)
            assert standin.disconnected_at - closed_at < 1.0
            assert standin.chunks_sent < 60  # it stopped streaming long before the end

            async def partial_stored() -> bool:
                doc = await ChatMessage.get_pymongo_collection().find_one(
                    {"role": "assistant", "status": "partial"}
                )
                return doc is not None

            await _wait(partial_stored)
            doc = await ChatMessage.get_pymongo_collection().find_one({"role": "assistant"})
            assert doc["content"].startswith("".join(seen))
            assert len(doc["content"]) < len(words)
            # The session is free again: a new message is answered.
            app.state["services"].chat.llm_factory = ScriptedLLMFactory([reply("Hello again.")])
            response = await client.get(f"/api/v1/chat/sessions/{sid}", headers=user["headers"])
            assert response.status_code == 200
            async with aconnect_sse(
                client,
                "POST",
                f"/api/v1/chat/sessions/{sid}/messages",
                json={"content": "hi"},
                headers=user["headers"],
            ) as source:
                names = [sse.event async for sse in source.aiter_sse()]
            assert names[0] == "message.start" and names[-1] == "message.end"
