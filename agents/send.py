"""Opening a chat turn (`ChatService.send`): every check, then the user's message stored beside
the run's checkpoint read-ahead. The voice turn's hot path (issue 18), so its round trips
are few and mostly concurrent:

1. the session (unless known, below), its pending approvals and the user's message-rate
   count, concurrently. A count for a message then refused as not found (or naming an
   unknown agent) is taken back: such a message never counted;
2. the session lock (Redis), once every check passed;
3. the message insert, the session update (on `_id` and owner: matching nothing means the
   session is gone) and the checkpoint read-ahead, concurrently.

Beside all that, the user's memories for the model's prompt are recalled (the recall the
run's first model call would make, into the run's own agent context; a failed recall is
simply made again by the run): for a known session from the start, with step 1, else
with step 3.

The errors and their order are those of the checks one after another: not found, unknown
agent, rate limited, approval pending, LLM unavailable, busy.

Known sessions: a session this process stored a message in is not read again. Its owner
and agent never change, and its first message set its title; whether it still exists is
what the conditional update in 3 answers (gone: the message is deleted again, the count
taken back, 404), and a refusal before that looks it up first, so a deleted session still
answers 404 rather than another refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from agents.catalog import AGENTS
from agents.documents import ChatApproval, ChatMessage, ChatSession
from agents.graph import AgentContext, agent_context, run_input
from agents.router import route
from agents.run import ChatRun
from agents.session_lock import SETTLED
from auth.ratelimit import RateLimiter
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Conflict, NotFound

if TYPE_CHECKING:  # the chat service owns the opener; type-only to avoid the cycle
    from agents.chat import ChatService

KNOWN_SESSIONS = 4096  # sessions whose owner and agent this process keeps


def session_not_found() -> NotFound:
    return NotFound("No such chat session.", code="CHAT_SESSION_NOT_FOUND")


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a turn needs of its session."""

    agent: str | None
    titled: bool  # False: this message's text becomes the title


class KnownSessions:
    """Session id -> (owner, agent) of the sessions this process stored a message in (their
    title is set then, so never empty again). Bounded; the oldest is forgotten first."""

    def __init__(self, size: int = KNOWN_SESSIONS) -> None:
        self._size = size
        self._known: dict[ObjectId, tuple[ObjectId, str | None]] = {}

    def get(self, session_id: ObjectId, owner: ObjectId) -> SessionFacts | None:
        known = self._known.get(session_id)
        if known is None or known[0] != owner:
            return None
        return SessionFacts(agent=known[1], titled=True)

    def remember(self, session_id: ObjectId, owner: ObjectId, agent: str | None) -> None:
        if session_id not in self._known and len(self._known) >= self._size:
            self._known.pop(next(iter(self._known)))
        self._known[session_id] = (owner, agent)

    def forget(self, session_id: ObjectId) -> None:
        self._known.pop(session_id, None)


class TurnOpener:
    def __init__(self, chat: ChatService, limits: RateLimiter) -> None:
        self.chat = chat
        self.limits = limits
        self.known = KnownSessions()

    async def open(
        self, actor: Actor, sid: ObjectId, content: str, text: str, agent: str | None
    ) -> ChatRun:
        chat = self.chat
        user = str(actor.user_id)
        limit = chat.config.messages_per_minute
        # A known session is only trusted for an agent that needs no check.
        known = (
            None
            if agent is not None and agent not in AGENTS
            else self.known.get(sid, actor.user_id)
        )
        expect = None if known is None else chat.checkpointer.warm_id(str(sid))
        # The run's context, as `run_config` would make it; the model node's `memory_block`
        # takes the memories for this text from its cache.
        context = AgentContext(chat.managers, actor).for_config()
        recall = _recall(context, content) if known is not None else None
        counted: tuple[int, int] | None = None
        waiting: list[ChatApproval] | None = None  # None: still to look up
        token: str | None = None
        if expect is not None:
            # Count, "still settled at our checkpoint?" and the lock in one round trip;
            # settled means no run since ours, so no approval can be waiting.
            try:
                count, ttl, state, gate_token = await chat.locks.gate(
                    f"rl:chat:{user}", sid, window=60, limit=limit, expect=expect
                )
            except Exception:
                await self._confirm(actor, sid)
                raise
            counted = (count, ttl)
            if state == SETTLED:
                chat.checkpointer.unprime(str(sid))  # only what is read under the lock
                token, waiting = gate_token, []
        lookups: dict[str, Any] = {}
        if counted is None:
            lookups["count"] = self.limits.count("chat", user, window=60)
        if waiting is None:
            lookups["pending"] = chat.approvals.pending(sid)
        if known is None:
            lookups["session"] = chat.session_doc(actor, sid)
        results = await asyncio.gather(*lookups.values(), return_exceptions=True)
        done = dict(zip(lookups, results, strict=True))
        try:
            if known is None:
                session = chat.found(_raise_if_failed(done["session"]))
                facts = SessionFacts(agent=session.agent, titled=bool(session.title))
                chat.check_agent(agent)
            else:
                facts = known
            if waiting is None:
                waiting = _raise_if_failed(done["pending"])
            if counted is None:
                counted = _raise_if_failed(done["count"])
        except BaseException:
            if counted is not None or isinstance(done.get("count"), tuple):
                await self.limits.take_back("chat", user)  # refused before it counts
            raise
        assert counted is not None and waiting is not None
        try:
            RateLimiter.check(*counted, limit=limit)
            if waiting:
                raise Conflict(
                    "An action is waiting for your approval in this chat; answer it first.",
                    code="APPROVAL_PENDING",
                    details=[{"approvalId": a.approval_id, "tool": a.tool} for a in waiting],
                )
            await chat.llm_factory.ensure_available()
            if token is None:
                token = await chat.lock(sid)
        except Exception:
            if token is not None:
                await chat.unlock(sid, token)
            if known is not None:
                await self._confirm(actor, sid)  # a session gone since answers 404 first
            raise
        settled = "pending" not in lookups  # locked by the gate, settled at our checkpoint
        try:
            return await self._store(
                actor, sid, facts, content, text, agent, token, settled, context, recall
            )
        except BaseException:
            await chat.unlock(sid, token)
            raise

    async def _confirm(self, actor: Actor, sid: ObjectId) -> None:
        """Raise 404 (the count taken back) when the known session no longer exists."""
        try:
            exists = await self.chat.session_doc(actor, sid, projection={"_id": 1})
        except Exception:
            return  # the refusal at hand stands
        if exists is None:
            await self._gone(actor, sid)

    async def _gone(self, actor: Actor, sid: ObjectId) -> None:
        self.known.forget(sid)
        with contextlib.suppress(Exception):
            await self.limits.take_back("chat", str(actor.user_id))
        raise session_not_found()

    async def _store(
        self,
        actor: Actor,
        sid: ObjectId,
        facts: SessionFacts,
        content: str,
        text: str,
        agent: str | None,
        token: str,
        settled: bool,
        context: dict[str, Any],
        recall: asyncio.Future[str] | None,
    ) -> ChatRun:
        chat = self.chat
        chosen, how = agent or facts.agent, "client"
        if chosen is None:
            router_llm = (
                chat.llm_factory.chat_model("router") if chat.config.router == "llm" else None
            )
            chosen, how = await route(text, router_llm, timeout=chat.config.router_timeout)
        user_message = ChatMessage(
            session_id=sid, user_id=actor.user_id, role="user", content=content
        )
        update: dict[str, Any] = {"updated_at": utcnow()}
        if not facts.titled:
            update["title"] = text[:60]
        sessions = ChatSession.get_pymongo_collection()
        messages = ChatMessage.get_pymongo_collection()
        # Raw insert: Beanie's `insert()` adds ~0.5 ms of hooks and validation here.
        doc = user_message.model_dump(by_alias=True, exclude={"id"})
        # The stores and the run's first steps (reading the checkpoint, recalling) overlap;
        # the run only starts once the stores succeeded, so a failed store answers nothing.
        inserted, touched, primed, _ = await asyncio.gather(
            messages.insert_one(doc),
            sessions.update_one(
                {"_id": sid, "user_id": actor.user_id},
                {"$set": update, "$inc": {"message_count": 1}},
            ),
            chat.checkpointer.prime(str(sid), settled=settled),
            recall or _recall(context, content),
            return_exceptions=True,
        )
        if not isinstance(touched, BaseException) and touched.matched_count == 0:
            if not isinstance(inserted, BaseException):  # deleted meanwhile: store nothing
                with contextlib.suppress(Exception):
                    await messages.delete_one({"_id": inserted.inserted_id})
            await self._gone(actor, sid)
        if isinstance(inserted, BaseException) and not isinstance(touched, BaseException):
            with contextlib.suppress(Exception):  # best effort: the count stays honest
                await sessions.update_one({"_id": sid}, {"$inc": {"message_count": -1}})
        for result in (inserted, touched, primed):
            _raise_if_failed(result)
        self.known.remember(sid, actor.user_id, facts.agent)
        return ChatRun(
            host=chat,
            actor=actor,
            session_id=sid,
            agent=chosen,
            routed_by=how,
            graph_input=run_input(content),
            lock_token=token,
            context=context,
        )


def _recall(context: dict[str, Any], text: str) -> asyncio.Future[str]:
    """Recall the memories for `text` into the run's agent context, in a task of its own
    (whatever becomes of the turn; its failure is the run's to meet again)."""
    task = asyncio.ensure_future(agent_context({"configurable": context}).memory_block(text))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task


def _raise_if_failed(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result
