"""Agents without services: the registry's shapes, trimming, keyword routing, the scripted
model, and a graph's approval interrupt driven without HTTP (as the voice agent does)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from bson import ObjectId
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.catalog import AGENTS
from agents.graph import build_agent_graph, run_input
from agents.router import keyword_route
from agents.scripted import ScriptedChatModel, call, reply
from agents.tools import REGISTRY
from agents.tools.registry import render_result
from server.core.actor import Actor

pytestmark = pytest.mark.unit

MONEY_OR_DESTRUCTIVE = {
    "wallet_transfer",
    "shop_buy",
    "security_revoke_session",
    *(
        f"{kind}_{verb}"
        for kind in ("family", "workspace")
        for verb in (
            "freeze",
            "unfreeze",
            "set_permissions",
            "token_request_create",
            "token_request_approve",
            "token_request_deny",
            "change_role",
        )
    ),
}


def test_every_tool_has_a_flat_schema_and_a_description():
    for spec in REGISTRY.all():
        function = spec.schema()["function"]
        assert function["name"] == spec.name and len(function["description"]) > 10
        params = function["parameters"]
        assert params["type"] == "object" and "$defs" not in params, spec.name
        for name, prop in params["properties"].items():
            kinds = [prop.get("type")] + [p.get("type") for p in prop.get("anyOf", [])]
            assert "object" not in kinds and "array" not in kinds, (spec.name, name)
            assert "$ref" not in json.dumps(prop), (spec.name, name)


def test_agents_use_registered_tools_and_money_needs_approval():
    for agent in AGENTS.values():
        assert agent.tools and all(name in REGISTRY for name in agent.tools), agent.name
    for spec in REGISTRY.all():
        if spec.name in MONEY_OR_DESTRUCTIVE:
            assert spec.mutating and spec.needs_approval, spec.name
        if not spec.mutating:
            assert not spec.needs_approval, spec.name
    assert {a.name for a in AGENTS.values()} == {
        "personal",
        "family",
        "workspace",
        "knowledge",
        "commerce",
        "security",
    }


def test_render_result_trims_lists_to_valid_json_and_cuts_the_rest():
    assert render_result({"a": 1}, 100) == '{"a":1}'
    text = render_result({"items": [{"n": i, "pad": "x" * 50} for i in range(40)]}, 500)
    data = json.loads(text)
    assert len(text) <= 500 and 0 < len(data["items"]) < 40 and "left out" in data["trimmed"]
    cut = render_result({"blob": "y" * 1000}, 100)
    assert len(cut) <= 100 and cut.endswith("[trimmed]")


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("send 20 tokens to mom", "personal"),
        ("who hasn't accepted the invite yet?", "family"),
        ("freeze the family wallet", "family"),
        ("buy the ocean theme with the team wallet", "commerce"),
        ("which devices are signed in? I think I was hacked", "security"),
        ("add Sam to the team workspace as an editor", "workspace"),
        ("hello there", "personal"),
        ("what did I write about the zebra budget?", "knowledge"),
        ("What do my notes say about Rome?", "knowledge"),
        ("find my note on taxes", "knowledge"),
        ("remember that I like green tea", "knowledge"),
        ("write a note: buy milk", "personal"),
        ("what did I buy last week?", "commerce"),
        ("I wrote a check to dad", "family"),
    ],
)
def test_keyword_router(text, agent):
    assert keyword_route(text) == agent


async def test_scripted_model_streams_tool_calls_as_chunks():
    """Regression: GenericFakeChatModel drops tool calls when streaming; ours must not."""
    model = ScriptedChatModel(messages=iter([call("wallet_balance", {"x": 1}, text="Checking")]))
    chunks = [c async for c in model.bind_tools([]).astream([HumanMessage("hi")])]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.content == "Checking"
    assert [(tc["name"], tc["args"]) for tc in merged.tool_calls] == [("wallet_balance", {"x": 1})]
    assert merged.usage_metadata["output_tokens"] > 0


class FakeWallet:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def transfer(self, actor: Actor, cmd: Any, *, idempotency_key: str) -> Any:
        self.sent.append((actor.channel, cmd.to.username, cmd.amount, idempotency_key))
        return SimpleNamespace(value={"balance": 80})


class NoMemories:
    async def recall(self, actor: Actor, text: str) -> list[Any]:
        return []


async def test_graph_pauses_for_approval_and_resumes_without_http():
    wallet = FakeWallet()
    model = ScriptedChatModel(
        messages=iter(
            [call("wallet_transfer", {"to_username": "mom", "amount": 20}), reply("Sent.")]
        )
    )
    actor = Actor(user_id=ObjectId(), username="kid")
    graph = build_agent_graph(
        "personal",
        SimpleNamespace(wallet=wallet, memories=NoMemories()),
        actor,
        model,
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "t1"}}
    result = await graph.ainvoke(run_input("send 20 tokens to mom"), config)
    (pending,) = result["__interrupt__"]
    assert pending.value["tool"] == "wallet_transfer"
    assert pending.value["args"] == {"to_username": "mom", "amount": 20}
    assert wallet.sent == []

    result = await graph.ainvoke(Command(resume={"approve": True}), config)
    assert result["messages"][-1].content == "Sent."
    ((channel, to, amount, key),) = wallet.sent
    assert (channel, to, amount) == ("agent", "mom", 20)  # the agent acts as the user
    assert key == f"agent-{pending.value['approvalId']}"
