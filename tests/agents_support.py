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


class LiveEvents:
    """Subscribe to a channel's live Redis pub/sub (`rt:live:<channel>`) and collect events."""

    def __init__(self, redis: Any, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self.pubsub = redis.pubsub()

    async def __aenter__(self) -> LiveEvents:
        from realtime.bus import live_channel

        await self.pubsub.subscribe(live_channel(self.channel))
        await self.pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.pubsub.aclose()

    async def wait_for(self, event_type: str, timeout: float = 5.0) -> dict[str, Any]:
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await self.pubsub.get_message(
                ignore_subscribe_messages=True, timeout=max(0.01, deadline - time.monotonic())
            )
            if message and message.get("type") == "message":
                event = json.loads(message["data"])
                if event.get("type") == event_type:
                    return event  # type: ignore[no-any-return]
            await asyncio.sleep(0)
        raise AssertionError(f"no {event_type} on {self.channel} within {timeout}s")


class Served:
    """An ASGI app served by uvicorn on the test's event loop, on a free port (real HTTP)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from scripts.devservices import free_port

        self.port = free_port()
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                lifespan="auto",
                log_level="warning",
                access_log=False,
                proxy_headers=False,  # as in production: X-Forwarded-For is the app's call
            )
        )
        self.task: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Served:
        import asyncio

        self.task = asyncio.create_task(self.server.serve())
        for _ in range(1000):
            if self.server.started or self.task.done():
                break
            await asyncio.sleep(0.01)
        if self.task.done():
            self.task.result()
        assert self.server.started, "uvicorn did not start"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        await self.task
