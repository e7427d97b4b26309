"""Helpers for the agent and chat tests (not a test module)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from agents.scripted import ScriptedLLMFactory
from tests.helpers import services

CHAT = "/api/v1/chat"


def use_script(client: httpx.AsyncClient, factory: ScriptedLLMFactory) -> ScriptedLLMFactory:
    """Put a scripted LLM factory on the app's chat service (the documented test hook)."""
    services(client).chat.llm_factory = factory
    return factory


async def new_session(
    client: httpx.AsyncClient, user: dict[str, Any], agent: str | None = None
) -> str:
    body: dict[str, Any] = {} if agent is None else {"agent": agent}
    response = await client.post(f"{CHAT}/sessions", json=body, headers=user["headers"])
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def read_sse(
    client: httpx.AsyncClient, url: str, user: dict[str, Any], body: dict[str, Any]
) -> list[tuple[str, Any]]:
    """POST and parse the text/event-stream answer with a real SSE client: [(event, data)]."""
    async with aconnect_sse(client, "POST", url, json=body, headers=user["headers"]) as source:
        assert source.response.status_code == 200, await source.response.aread()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]


async def say(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    session_id: str,
    content: str,
    **extra: Any,
) -> list[tuple[str, Any]]:
    return await read_sse(
        client,
        f"{CHAT}/sessions/{session_id}/messages",
        user,
        {"content": content, **extra},
    )


async def decide(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    session_id: str,
    approval_id: str,
    approve: bool,
) -> list[tuple[str, Any]]:
    return await read_sse(
        client,
        f"{CHAT}/sessions/{session_id}/approvals/{approval_id}",
        user,
        {"approve": approve},
    )


def of(events: list[tuple[str, Any]], kind: str) -> list[Any]:
    return [data for name, data in events if name == kind]


def text_of(events: list[tuple[str, Any]]) -> str:
    return "".join(d["text"] for d in of(events, "token"))


def kinds(events: list[tuple[str, Any]]) -> list[str]:
    """The event names with consecutive tokens collapsed into one 'token'."""
    out: list[str] = []
    for name, _ in events:
        if name == "token" and out and out[-1] == "token":
            continue
        out.append(name)
    return out
