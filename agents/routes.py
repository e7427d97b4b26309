"""HTTP routes of the chat: thin; the answer streams as `text/event-stream`.

Every SSE message is `event: <type>` + `data: <JSON>`; types: message.start, token,
tool.start, tool.end, approval_required, message.end, error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter
from litestar.response import Stream

from agents.aisdk import HEADERS as AI_SDK_HEADERS
from agents.aisdk import approval_answer, last_user_text, ui_chunks, wants_ai_sdk
from agents.chat import ChatService
from agents.run import ChatEvent, ChatRun
from agents.schemas import (
    AgentPage,
    ApprovalDecision,
    MessageCreate,
    MessagePage,
    SessionCreate,
    SessionPage,
    SessionView,
)
from server.core.actor import Actor

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_encode = msgspec.json.Encoder().encode


def sse_bytes(event: ChatEvent) -> bytes:
    """One SSE message: `event: <type>` and one `data:` line of compact JSON."""
    return b"event: " + event.type.encode() + b"\ndata: " + _encode(event.data) + b"\n\n"


async def sse_chunks(run: ChatRun) -> AsyncIterator[bytes]:
    async with aclosing(run.batches()) as batches:
        async for batch in batches:
            yield b"".join(sse_bytes(event) for event in batch)


def stream(run: ChatRun) -> Stream:
    """Litestar's native streaming response, as `text/event-stream`; the messages are
    encoded here so that several ready events go out in one write."""
    return Stream(sse_chunks(run), media_type="text/event-stream", headers=SSE_HEADERS)


class ChatController(Controller):
    path = "/api/v1/chat"
    tags = ["chat"]

    @get("/agents", summary="The agents a chat can talk to")
    async def list_agents(self, actor: Actor, chat: ChatService) -> AgentPage:
        return AgentPage(items=chat.agents())

    @post("/sessions", summary="Start a chat (optionally with a fixed agent)")
    async def create_session(
        self, data: SessionCreate, actor: Actor, chat: ChatService
    ) -> SessionView:
        return await chat.create_session(actor, data)

    @get("/sessions", summary="My chats, newest first")
    async def list_sessions(
        self,
        actor: Actor,
        chat: ChatService,
        cursor: str | None = None,
        limit: int = Parameter(default=20, ge=1, le=100),
    ) -> SessionPage:
        return await chat.list_sessions(actor, cursor=cursor, limit=limit)

    @get("/sessions/{session_id:str}", summary="One chat, with its pending approvals")
    async def get_session(self, session_id: str, actor: Actor, chat: ChatService) -> SessionView:
        return await chat.get_session(actor, session_id)

    @delete("/sessions/{session_id:str}", summary="Delete a chat and its history")
    async def delete_session(self, session_id: str, actor: Actor, chat: ChatService) -> None:
        await chat.delete_session(actor, session_id)

    @get("/sessions/{session_id:str}/messages", summary="Messages, newest first")
    async def list_messages(
        self,
        session_id: str,
        actor: Actor,
        chat: ChatService,
        cursor: str | None = None,
        limit: int = Parameter(default=50, ge=1, le=200),
    ) -> MessagePage:
        return await chat.list_messages(actor, session_id, cursor=cursor, limit=limit)

    @post(
        "/sessions/{session_id:str}/messages",
        summary="Send a message; the answer streams back as server-sent events",
        status_code=200,
    )
    async def send_message(
        self,
        request: Request[Any, Any, Any],
        session_id: str,
        data: MessageCreate,
        actor: Actor,
        chat: ChatService,
        protocol: str | None = Parameter(
            default=None,
            description="`ai-sdk`: answer in the Vercel AI SDK UI message stream protocol v1",
        ),
    ) -> Stream:
        if not wants_ai_sdk(request.headers.get("accept"), protocol):
            return stream(await chat.send(actor, session_id, data.content, agent=data.agent))
        answer = approval_answer(data.messages) if data.messages is not None else None
        if answer is not None:
            run = await chat.decide(actor, session_id, answer[0], answer[1])
        else:
            content = data.content or last_user_text(data.messages)
            run = await chat.send(actor, session_id, content, agent=data.agent)
        return Stream(ui_chunks(run), media_type="text/event-stream", headers=AI_SDK_HEADERS)

    @post(
        "/sessions/{session_id:str}/approvals/{approval_id:str}",
        summary="Approve or deny a paused action; the resumed answer streams back",
        status_code=200,
    )
    async def decide(
        self,
        session_id: str,
        approval_id: str,
        data: ApprovalDecision,
        actor: Actor,
        chat: ChatService,
    ) -> Stream:
        return stream(await chat.decide(actor, session_id, approval_id, data.approve))


ROUTE_HANDLERS: list[Any] = [ChatController]
