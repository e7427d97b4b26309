"""One run of an agent as events: `ChatRun.batches()` streams the graph in a task of its own
and stores the answer (complete, partial, awaiting_approval or error) when it ends.

The run needs a `RunHost` (the chat service): the compiled graph, the run config, the
approvals store, the LLM factory and the session lock's release.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from bson import ObjectId
from langchain_core.messages import AIMessage

from agents.approvals import Approvals
from agents.citations import CitationStream, Sources
from agents.documents import ChatMessage, ChatSession
from agents.graph import ANSWER_NODE, agent_context
from agents.llm import CONNECTION_ERRORS, LLMFactory
from server.core.actor import Actor
from server.core.clock import utcnow

log = logging.getLogger("agents.chat")


@dataclass(frozen=True, slots=True)
class ChatEvent:
    type: str
    data: dict[str, Any]


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and _is_connection_error(cause)


class AgentGraph(Protocol):
    """What a run needs of a compiled LangGraph graph: its stream."""

    def astream(
        self, input: Any, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]: ...


class RunHost(Protocol):
    """What a run asks of the chat service."""

    llm_factory: LLMFactory
    approvals: Approvals

    def compiled(self, agent: str) -> AgentGraph: ...

    def run_config(
        self, session_id: Any, actor: Actor, context: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...

    async def unlock(self, session_id: Any, token: str) -> None: ...

    async def settle(self, session_id: Any) -> None: ...


@dataclass
class ChatRun:
    """One answer of an agent: iterate `events()` once."""

    host: RunHost
    actor: Actor
    session_id: Any
    agent: str
    routed_by: str
    graph_input: Any
    lock_token: str
    graph: AgentGraph | None = None
    # The run's agent context, when the opener prepared it (its memories already recalled).
    context: dict[str, Any] | None = None
    message_id: ObjectId = field(default_factory=ObjectId)
    text: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(
        default_factory=lambda: {"promptTokens": 0, "completionTokens": 0}
    )
    approvals: list[str] = field(default_factory=list)
    status: str = "complete"
    finished: bool = False
    cites: CitationStream = field(default_factory=lambda: CitationStream(Sources()))

    def _usage_from(self, update: Any) -> None:
        for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
            meta = getattr(message, "usage_metadata", None)
            if isinstance(message, AIMessage) and meta:
                self.usage["promptTokens"] += int(meta.get("input_tokens", 0))
                self.usage["completionTokens"] += int(meta.get("output_tokens", 0))

    async def events(self) -> AsyncGenerator[ChatEvent, None]:
        """The events of this run, one by one (see `batches`)."""
        async with contextlib.aclosing(self.batches()) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    async def batches(self) -> AsyncGenerator[list[ChatEvent], None]:
        """The events of this run, in batches of whatever is ready: one event when the
        consumer keeps up, several when it fell behind (so a busy server writes once for
        many tokens instead of once per token; nothing waits to fill a batch).

        The graph runs in a task of its own, so a consumer that goes away (cancelled, or
        closed) cancels it once, plainly, and the LLM call with it (LangGraph's cleanup must
        not run inside the HTTP layer's repeating cancel scope); the answer so far is then
        stored as `partial`."""
        queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(queue))
        try:
            done = False
            while not done:
                batch: list[ChatEvent | None] = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                done = batch[-1] is None  # the producer's end marker
                ready = [event for event in batch if event is not None]
                if ready:
                    yield ready
            await producer
        except (asyncio.CancelledError, GeneratorExit):
            with anyio.CancelScope(shield=True):
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
                if not self.finished:
                    self.status = "partial"
                    await self._finish()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                if not producer.done():
                    producer.cancel()
                await self.host.unlock(self.session_id, self.lock_token)

    async def _produce(self, queue: asyncio.Queue[ChatEvent | None]) -> None:
        service = self.host
        if self.graph is None:
            self.graph = service.compiled(self.agent)
        config = service.run_config(self.session_id, self.actor, self.context)
        self.cites = CitationStream(agent_context(config).sources)
        put = queue.put_nowait
        put(
            ChatEvent(
                "message.start",
                {
                    "sessionId": str(self.session_id),
                    "messageId": str(self.message_id),
                    "agent": self.agent,
                    "routedBy": self.routed_by,
                },
            )
        )
        try:
            async for mode, payload in self.graph.astream(
                self.graph_input,
                config,
                stream_mode=["messages", "custom", "updates"],
                durability="exit",
            ):
                if mode == "messages":
                    chunk, meta = payload
                    if meta.get("langgraph_node") != ANSWER_NODE:
                        continue
                    piece = chunk.content if isinstance(chunk.content, str) else chunk.text
                    if piece:
                        self._say(*self.cites.feed(piece), put)
                elif mode == "custom":
                    if isinstance(payload, dict) and "type" in payload:
                        if payload["type"] == "tool.end":
                            data = payload["data"]
                            self.tools.append({"tool": data["tool"], "status": data["status"]})
                        put(ChatEvent(payload["type"], payload["data"]))
                elif mode == "updates":
                    for event in await self._on_update(payload):
                        put(event)
            self._say(*self.cites.flush(), put)
        except Exception as exc:
            if _is_connection_error(exc):
                service.llm_factory.mark_unavailable()
                code, message = "LLM_UNAVAILABLE", "The language model could not be reached."
            else:
                log.exception("chat run failed", extra={"agent": self.agent})
                code, message = "INTERNAL_ERROR", "Something went wrong on our side."
            self.status = "error"
            await self._finish()
            put(ChatEvent("error", {"code": code, "message": message}))
            put(None)
            return
        self.status = "awaiting_approval" if self.approvals else "complete"
        await self._finish()
        put(
            ChatEvent(
                "message.end",
                {
                    "messageId": str(self.message_id),
                    "status": self.status,
                    "usage": self.usage,
                    "approvals": self.approvals,
                },
            )
        )
        put(None)
        if self.status == "complete":
            try:  # still under the lock: the next turn may trust the warm checkpoint
                await service.settle(self.session_id)
            except Exception:  # only a shortcut lost: the next turn asks MongoDB
                log.warning("could not mark the chat settled", exc_info=True)

    def _say(
        self,
        text: str,
        citations: list[dict[str, Any]],
        put: Callable[[ChatEvent | None], None],
    ) -> None:
        """A piece of the answer: the citations it uses first go out just before it."""
        for citation in citations:
            put(ChatEvent("citation", citation))
        if text:
            self.text.append(text)
            put(ChatEvent("token", {"text": text}))

    async def _on_update(self, payload: dict[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        for node, update in payload.items():
            if node == "__interrupt__":
                for interrupt in update:
                    value = interrupt.value if isinstance(interrupt.value, dict) else {}
                    approval = await self.host.approvals.store(self.actor, self.session_id, value)
                    self.approvals.append(approval.approval_id)
                    events.append(
                        ChatEvent(
                            "approval_required",
                            {
                                "approvalId": approval.approval_id,
                                "sessionId": str(self.session_id),
                                "agent": approval.agent,
                                "tool": approval.tool,
                                "args": approval.args,
                                "description": approval.description,
                            },
                        )
                    )
            elif node == ANSWER_NODE:
                self._usage_from(update)
            elif node == "limit" and isinstance(update, dict):
                for message in update.get("messages", []):
                    if isinstance(message, AIMessage) and isinstance(message.content, str):
                        self.text.append(message.content)
                        events.append(ChatEvent("token", {"text": message.content}))
        return events

    async def _finish(self) -> None:
        """Store the answer (whatever status) and touch the session; safe to call twice."""
        message = ChatMessage(
            id=self.message_id,
            session_id=self.session_id,
            user_id=self.actor.user_id,
            role="assistant",
            content="".join(self.text),
            agent=self.agent,
            status=self.status,
            tools=self.tools,
            usage=self.usage,
            citations=self.cites.citations,
        )
        doc = message.model_dump(by_alias=True, exclude={"id"})
        result = await ChatMessage.get_pymongo_collection().replace_one(
            {"_id": self.message_id}, doc, upsert=True
        )
        self.finished = True
        await ChatSession.get_pymongo_collection().update_one(
            {"_id": self.session_id},
            {
                "$set": {"updated_at": utcnow(), "last_agent": self.agent},
                "$inc": {"message_count": 1 if result.upserted_id is not None else 0},
            },
        )
