"""langchain-ollama's real client against a local Ollama-protocol stand-in over HTTP."""

from __future__ import annotations

import pytest

from scripts.devservices import free_port
from tests.agents_support import Served, kinds, new_session, of, say, text_of
from tests.e2e.ollama_standin import OllamaStandIn, answer
from tests.helpers import assert_error, register

pytestmark = pytest.mark.e2e


async def test_chat_through_chat_ollama_with_router_tools_and_usage(app_factory):
    standin = OllamaStandIn(
        [
            answer('{"agent": "personal"}'),
            answer(tool_calls=[("wallet_balance", {})]),
            answer("You have 0 tokens right now."),
        ]
    )
    async with (
        Served(standin) as ollama,
        app_factory(ollama_url=ollama.url, agent_models={"personal": "small-model"}) as client,
    ):
        user = await register(client)
        sid = await new_session(client, user)
        events = await say(client, user, sid, "what is my balance?")

    assert kinds(events) == ["message.start", "tool.start", "tool.end", "token", "message.end"]
    assert of(events, "message.start")[0]["routedBy"] == "llm"
    assert of(events, "tool.end")[0]["status"] == "ok"
    assert text_of(events) == "You have 0 tokens right now."
    assert len(of(events, "token")) == 6  # one per streamed NDJSON chunk
    usage = of(events, "message.end")[0]["usage"]
    assert usage["promptTokens"] == 24  # two agent calls, 12 prompt tokens each
    assert usage["completionTokens"] > 0

    router, first, second = standin.requests
    assert router["model"] == "llama3.1" and "format" in router  # structured output
    assert first["model"] == "small-model" and first["stream"] is True
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in first["tools"]}
    assert "wallet_transfer" in tools and "family_freeze" not in tools
    for params in tools.values():  # flat: no nested objects, no references
        assert "$defs" not in params
        for prop in params.get("properties", {}).values():
            assert prop.get("type") != "object" and "$ref" not in prop
    assert [m["role"] for m in second["messages"]][-2:] == ["assistant", "tool"]


async def test_unreachable_ollama_is_503_and_degraded_health(app_factory):
    async with app_factory(ollama_url=f"http://127.0.0.1:{free_port()}") as client:
        user = await register(client)
        sid = await new_session(client, user, agent="personal")
        response = await client.post(
            f"/api/v1/chat/sessions/{sid}/messages",
            json={"content": "hello"},
            headers=user["headers"],
        )
        assert_error(response, 503, "LLM_UNAVAILABLE")
        ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["components"]["llm"]["status"] == "degraded"
    assert body["components"]["mongodb"]["status"] == "ok"
