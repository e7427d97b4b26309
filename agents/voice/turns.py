"""One voice conversation's turns, through the same chat service as the text chat.

`VoiceTurns.answer(text)` hands the user's utterance to `ChatService.send` (the same
checks, rate limit, router, checkpointed LangGraph agent and message storage as a typed
message, in the same chat session) and yields the run's `token` events — the answering
node's text only; tool results are never read out — for the TTS.

A `needsApproval` tool pauses the run: the question is spoken, pushed to `user:{id}`
(`voice.approval_required`), and the next utterance is heard as the yes/no
(`ChatService.decide`). A tap in the app (`POST /api/v1/voice/sessions/{id}/approvals/{id}`)
reaches the waiting worker through `ApprovalBroker`; the first answer wins.

The run is consumed by a task of its own: if the user barges in and LiveKit cancels the
speech, the run (its tool calls, its stored answer) still completes; only speaking stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId

from agents.citations import spoken
from agents.documents import ChatApproval, ChatMessage
from agents.voice.approvals import ApprovalBroker, Decision, approval_prompt, parse_yes_no
from agents.voice.schemas import (
    APPROVAL_REQUIRED,
    APPROVAL_RESOLVED,
    ApprovalRequiredEvent,
    ApprovalResolvedEvent,
)
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.errors import Conflict, DomainError, NotFound

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Services

log = logging.getLogger("agents.voice.turns")

VOICE_CHANNEL = "voice"

# What the agent says when the chat service refuses a turn (by error code).
SPOKEN_ERRORS = {
    "RATE_LIMITED": "You're going a little fast for me. Give me a moment and ask again.",
    "LLM_UNAVAILABLE": "Sorry, I can't think right now: my language model is not reachable.",
    "SESSION_BUSY": "I'm still working on your last request. One moment, please.",
    "MESSAGE_TOO_LONG": "That was a lot at once. Could you say it in fewer words?",
    "APPROVAL_DECIDED": "That was already answered in the app.",
}
SPOKEN_FAILURE = "Sorry, something went wrong on my side. Please try again."


@dataclass
class PendingApproval:
    approval_id: str
    tool: str
    args: dict[str, Any]
    prompt: str
    waiter: asyncio.Task[None] | None = None


@dataclass
class TurnTimings:
    """time.monotonic() stamps of the turns (the bench reads them)."""

    asked_at: float = 0.0  # LiveKit's LLM node asked for an answer
    opened_at: float = 0.0  # the chat service checked and stored the turn; the run starts
    first_text_at: float = 0.0  # the first answering-node text came out of the run
    runs: list[tuple[float, float, float]] = field(default_factory=list)


def sources_sentence(titles: list[str]) -> str:
    """What voice says instead of `[n]` markers: the cited notes by title."""
    return "Sources: " + ", ".join(titles)


async def _once(text: str) -> AsyncIterator[str]:
    yield text


class VoiceTurns:
    POLL_SECONDS = 2.0  # how often a waiting approval checks the chat's own record

    def __init__(
        self,
        *,
        services: Services,
        actor: Actor,
        chat_session_id: str,
        agent: str | None = None,
        approval_timeout: float = 120.0,
    ) -> None:
        self.services = services
        self.chat = services.chat
        self.actor = actor.with_channel("voice")
        self.chat_session_id = chat_session_id
        self.agent = agent
        self.approval_timeout = approval_timeout
        self.broker = ApprovalBroker(services.redis)
        self.pending: PendingApproval | None = None
        self.last_agent: str | None = None
        self.last_message_id: str | None = None
        self.timings = TurnTimings()
        # Called with the answer stream when a decision arrives from elsewhere (a tap, the
        # timeout); the worker speaks it with `session.say(stream)`.
        self.on_external_answer: Callable[[AsyncIterator[str]], Any] | None = None
        self._lock = asyncio.Lock()
        self._runs: set[asyncio.Task[None]] = set()

    # --- a turn ----------------------------------------------------------------------------

    async def answer(self, text: str) -> AsyncIterator[str]:
        """The spoken answer to the user's utterance `text`, piece by piece."""
        async with self._lock:
            self.timings.asked_at = time.monotonic()
            self.last_message_id = None  # set again if this turn runs the agent
            # Only look the approval up when we asked one (the chat service refuses a new
            # message while one is pending anyway, and then we look): a query saved per turn.
            pending = await self._pending() if self.pending is not None else None
            if pending is None:
                try:
                    run = await self.chat.send(self.actor, self.chat_session_id, text)
                except Conflict as exc:
                    pending = await self._pending() if exc.code == "APPROVAL_PENDING" else None
                    if pending is None:
                        yield SPOKEN_ERRORS.get(exc.code, exc.message)
                        return
                except DomainError as exc:
                    yield self._refused(exc)
                    return
                else:
                    async for piece in self._stream(run, with_user_message=True):
                        yield piece
                    return
            said = parse_yes_no(text)
            if said is None:
                yield f"Sorry, I need a yes or a no. {pending.prompt}"
                return
            await self._store_spoken_answer(text)
            decision = Decision(said, "voice")
            with contextlib.suppress(NotFound):  # not registered: only the chat record counts
                try:
                    decision = await self.broker.decide(
                        pending.approval_id,
                        user_id=str(self.actor.user_id),
                        chat_session_id=self.chat_session_id,
                        approved=said,
                        by="voice",
                    )
                except Conflict:  # a tap got there first: that decision stands
                    decision = await self.broker.decision(pending.approval_id) or decision
            async for piece in self._resume(pending, decision):
                yield piece

    @staticmethod
    def _refused(exc: DomainError) -> str:
        log.info("voice turn refused", extra={"code": exc.code})
        return SPOKEN_ERRORS.get(exc.code, exc.message)

    async def _store_spoken_answer(self, text: str) -> None:
        """The spoken yes/no joins the history (a tap or a typed message would not need to)."""
        message = ChatMessage(
            session_id=PydanticObjectId(self.chat_session_id),
            user_id=PydanticObjectId(str(self.actor.user_id)),
            role="user",
            content=text,
        )
        doc = message.model_dump(exclude={"id"})
        doc["channel"] = VOICE_CHANNEL
        await ChatMessage.get_pymongo_collection().insert_one(doc)

    async def _pending(self) -> PendingApproval | None:
        """The approval this chat waits for (asked by voice, or by the text chat)."""
        raw = await ChatApproval.get_pymongo_collection().find_one(
            {"session_id": PydanticObjectId(self.chat_session_id), "status": "pending"},
            sort=[("_id", 1)],
        )
        if raw is None:
            if self.pending is not None:  # decided elsewhere (the chat endpoint)
                self._forget(self.pending)
            return None
        approval = ChatApproval.model_validate(raw)
        if self.pending is not None and self.pending.approval_id == approval.approval_id:
            return self.pending
        return PendingApproval(
            approval.approval_id,
            approval.tool,
            dict(approval.args),
            approval_prompt(approval.tool, dict(approval.args)),
        )

    def _forget(self, pending: PendingApproval) -> None:
        if self.pending is pending:
            self.pending = None
        if pending.waiter is not None and pending.waiter is not asyncio.current_task():
            pending.waiter.cancel()

    async def _resume(self, pending: PendingApproval, decision: Decision) -> AsyncIterator[str]:
        self._forget(pending)
        await self.services.bus.publish(
            user_channel(self.actor.user_id),
            APPROVAL_RESOLVED,
            ApprovalResolvedEvent(
                chat_session_id=self.chat_session_id,
                approval_id=pending.approval_id,
                approved=decision.approved,
                by=decision.by,
            ),
        )
        try:
            run = await self.chat.decide(
                self.actor, self.chat_session_id, pending.approval_id, decision.approved
            )
        except DomainError as exc:
            yield self._refused(exc)
            return
        async for piece in self._stream(run, with_user_message=False):
            yield piece

    async def _stream(self, run: Any, *, with_user_message: bool) -> AsyncIterator[str]:
        self.timings.opened_at = time.monotonic()
        self.timings.first_text_at = 0.0
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        consumer = asyncio.create_task(self._consume(run, queue, with_user_message))
        self._runs.add(consumer)
        consumer.add_done_callback(self._runs.discard)
        while (piece := await queue.get()) is not None:
            yield piece

    async def _consume(
        self, run: Any, queue: asyncio.Queue[str | None], with_user_message: bool
    ) -> None:
        """Drain the run to its end, whether or not anyone still listens."""
        said_any = False
        titles: list[str] = []  # of the sources the answer cites, in order of first use
        self.last_agent = run.agent
        self.last_message_id = str(run.message_id)
        try:
            async for event in run.events():
                if event.type == "citation":
                    title = str(event.data.get("title") or "Untitled")
                    if title not in titles:
                        titles.append(title)
                elif event.type == "token":
                    piece = spoken(str(event.data.get("text", "")))
                    if piece:
                        if not self.timings.first_text_at:
                            self.timings.first_text_at = time.monotonic()
                        said_any = True
                        queue.put_nowait(piece)
                elif event.type == "approval_required":
                    question = await self._ask(event.data)
                    queue.put_nowait((" " if said_any else "") + question)
                elif event.type == "error":
                    queue.put_nowait((" " if said_any else "") + SPOKEN_FAILURE)
            if titles and said_any:
                queue.put_nowait(" " + sources_sentence(titles))
            self.timings.runs.append(
                (self.timings.asked_at, self.timings.opened_at, self.timings.first_text_at)
            )
            await self._mark_voice(run, with_user_message)
        except Exception:
            log.exception("voice turn failed")
            queue.put_nowait(SPOKEN_FAILURE)
        finally:
            queue.put_nowait(None)

    async def _mark_voice(self, run: Any, with_user_message: bool) -> None:
        """Mark this turn's messages (the user's, stored by `send`, and the answer) as spoken."""
        collection = ChatMessage.get_pymongo_collection()
        session_id = PydanticObjectId(self.chat_session_id)
        await collection.update_one({"_id": run.message_id}, {"$set": {"channel": VOICE_CHANNEL}})
        if not with_user_message:
            return
        user_message = await collection.find_one(
            {"session_id": session_id, "role": "user", "_id": {"$lt": run.message_id}},
            sort=[("_id", -1)],
            projection={"_id": 1, "channel": 1},
        )
        if user_message is not None and "channel" not in user_message:
            await collection.update_one(
                {"_id": user_message["_id"]}, {"$set": {"channel": VOICE_CHANNEL}}
            )

    async def _ask(self, data: dict[str, Any]) -> str:
        approval_id = str(data["approvalId"])
        tool = str(data.get("tool", "this action"))
        args = dict(data.get("args") or {})
        prompt = approval_prompt(tool, args)
        pending = PendingApproval(approval_id, tool, args, prompt)
        self.pending = pending
        await self.broker.register(
            approval_id,
            user_id=str(self.actor.user_id),
            chat_session_id=self.chat_session_id,
            ttl=self.approval_timeout,
        )
        expires = datetime.now(UTC) + timedelta(seconds=self.approval_timeout)
        await self.services.bus.publish(
            user_channel(self.actor.user_id),
            APPROVAL_REQUIRED,
            ApprovalRequiredEvent(
                chat_session_id=self.chat_session_id,
                approval_id=approval_id,
                tool=tool,
                args=args,
                description=str(data.get("description", "")),
                prompt=prompt,
                answer_path=f"/api/v1/voice/sessions/{self.chat_session_id}/approvals/{approval_id}",
                expires_at=expires.isoformat(),
            ),
        )
        pending.waiter = asyncio.create_task(self._await_elsewhere(pending))
        return prompt

    # --- decisions from elsewhere ----------------------------------------------------------

    async def _await_elsewhere(self, pending: PendingApproval) -> None:
        """A tap in the app, the text chat's approval endpoint, or the timeout decides while
        we wait for a spoken answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.approval_timeout
        decision: Decision | None = None
        while decision is None and (left := deadline - loop.time()) > 0:
            decision = await self.broker.wait(pending.approval_id, min(left, self.POLL_SECONDS))
            if decision is None and await self._decided_in_chat(pending):
                if self.pending is pending and self.on_external_answer is not None:
                    self._forget(pending)
                    self.on_external_answer(_once("You answered that in the app."))
                return
        if decision is None:
            with contextlib.suppress(Conflict, NotFound):
                decision = await self.broker.decide(
                    pending.approval_id,
                    user_id=str(self.actor.user_id),
                    chat_session_id=self.chat_session_id,
                    approved=False,
                    by="timeout",
                )
            decision = decision or await self.broker.decision(pending.approval_id)
        if decision is None or decision.by == "voice" or self.pending is not pending:
            return  # a spoken answer is handled by answer()
        stream = self._external(pending, decision)
        if self.on_external_answer is not None:
            self.on_external_answer(stream)
        else:
            async for _ in stream:
                pass

    async def _decided_in_chat(self, pending: PendingApproval) -> bool:
        raw = await ChatApproval.get_pymongo_collection().find_one(
            {
                "session_id": PydanticObjectId(self.chat_session_id),
                "approval_id": pending.approval_id,
            },
            projection={"status": 1},
        )
        return raw is not None and raw.get("status") != "pending"

    async def _external(self, pending: PendingApproval, decision: Decision) -> AsyncIterator[str]:
        async with self._lock:
            if self.pending is not pending:
                return
            if decision.by == "timeout":
                yield "I didn't hear an answer, so I did not do it. "
            async for piece in self._resume(pending, decision):
                yield piece

    async def aclose(self) -> None:
        pending = self.pending
        if pending is not None and pending.waiter is not None:
            pending.waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending.waiter
        for run in list(self._runs):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
