"""The chat service: sessions, messages and approvals; a run of an agent is `agents.run`.

`ChatService.send(...)` / `ChatService.decide(...)` do every check first (they raise domain
errors, which the HTTP layer answers as JSON) and return a `ChatRun`; `ChatRun.events()`
then yields `ChatEvent`s: message.start, token, tool.start, tool.end, approval_required,
message.end (or error). Any caller can consume them — the SSE route, the voice agent, a
test. If the consumer goes away (cancellation or `aclose()`), the LLM call is cancelled and
the answer so far is stored with status `partial`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from langgraph.types import Command
from redis.asyncio import Redis

from agents.approvals import ApprovalDecided, Approvals, approval_view
from agents.catalog import AGENTS
from agents.checkpoint import MongoCheckpointSaver
from agents.config import AgentsConfig
from agents.documents import ChatApproval, ChatMessage, ChatSession
from agents.graph import AgentContext, compile_agent_graph
from agents.llm import LLMFactory
from agents.run import ChatRun
from agents.schemas import (
    AgentView,
    Citation,
    MessagePage,
    MessageView,
    SessionCreate,
    SessionPage,
    SessionView,
)
from agents.send import TurnOpener, session_not_found
from agents.session_lock import SessionLocks
from auth.ratelimit import RateLimiter
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.errors import Conflict, Unprocessable
from server.core.wire import convert

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers

log = logging.getLogger("agents.chat")


def message_view(m: ChatMessage) -> MessageView:
    return MessageView(
        id=str(m.id),
        session_id=str(m.session_id),
        role=m.role,
        content=m.content,
        agent=m.agent,
        status=m.status,
        tools=m.tools,
        usage=m.usage,
        created_at=m.created_at,
        citations=[convert(c, Citation) for c in m.citations],
    )


def _oid(value: str) -> ObjectId | None:
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else None


class ChatService:
    def __init__(
        self,
        *,
        managers: Managers,
        config: AgentsConfig,
        llm_factory: LLMFactory,
        checkpointer: MongoCheckpointSaver,
        redis: Redis,
    ) -> None:
        self.managers = managers  # what the agents' tools act through
        self.config = config
        # Replaceable: tests and benchmarks set a scripted factory here.
        self.llm_factory = llm_factory
        self.checkpointer = checkpointer
        self._redis = redis
        self.opener = TurnOpener(self, RateLimiter(redis, prefix="rl"))
        self.locks = SessionLocks(redis, seconds=config.session_lock_seconds)
        self._graphs: dict[str, tuple[Any, Any]] = {}
        self.approvals = Approvals()

    # ------------------------------------------------------------------ agents

    def agents(self) -> list[AgentView]:
        return [
            AgentView(name=a.name, title=a.title, description=a.description, tools=list(a.tools))
            for a in AGENTS.values()
        ]

    def compiled(self, agent: str) -> Any:
        """The agent's compiled graph, built once per LLM factory (compiling costs ~30 ms of
        CPU, far too much per message); the user comes with each run's config."""
        cached = self._graphs.get(agent)
        if cached is None or cached[0] is not self.llm_factory:
            graph = compile_agent_graph(
                agent,
                self.llm_factory.chat_model(agent),
                checkpointer=self.checkpointer,
                limits=self.config.limits,
            )
            cached = self._graphs[agent] = (self.llm_factory, graph)
        return cached[1]

    def run_config(
        self, session_id: Any, actor: Actor, context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "configurable": {
                "thread_id": str(session_id),
                **(context or AgentContext(self.managers, actor).for_config()),
            },
            "recursion_limit": 4 * self.config.limits.max_tool_steps + 10,
        }

    def graph_for(self, agent: str, actor: Actor) -> Any:
        """The checkpointed graph of `agent` bound to `actor` (for callers like voice)."""
        return self.compiled(agent).with_config(
            configurable=AgentContext(self.managers, actor).for_config()
        )

    @staticmethod
    def check_agent(agent: str | None) -> str | None:
        if agent is not None and agent not in AGENTS:
            raise Unprocessable(
                f"Unknown agent {agent!r}.",
                code="UNKNOWN_AGENT",
                details=[{"field": "agent", "message": ", ".join(AGENTS)}],
            )
        return agent

    # ------------------------------------------------------------------ sessions

    async def _view(self, s: ChatSession, *, with_pending: bool = True) -> SessionView:
        pending = await self.approvals.pending(s.id) if with_pending else []
        return SessionView(
            id=str(s.id),
            agent=s.agent,
            title=s.title,
            last_agent=s.last_agent,
            message_count=s.message_count,
            created_at=s.created_at,
            updated_at=s.updated_at,
            pending_approvals=[approval_view(a) for a in pending],
        )

    async def _session(self, actor: Actor, session_id: str) -> ChatSession:
        require_scope(actor, "agents:chat")
        sid = _oid(session_id)
        return self.found(await self.session_doc(actor, sid) if sid else None)

    @staticmethod
    async def session_doc(
        actor: Actor, sid: ObjectId, *, projection: dict[str, int] | None = None
    ) -> dict[str, Any] | None:
        return await ChatSession.get_pymongo_collection().find_one(
            {"_id": sid, "user_id": actor.user_id}, projection=projection
        )

    @staticmethod
    def found(raw: dict[str, Any] | None) -> ChatSession:
        if raw is None:
            raise session_not_found()
        return ChatSession.model_validate(raw)

    async def create_session(self, actor: Actor, cmd: SessionCreate) -> SessionView:
        require_scope(actor, "agents:chat")
        session = ChatSession(
            user_id=actor.user_id,
            agent=self.check_agent(cmd.agent),
            title=cmd.title.strip(),
        )
        await session.insert()
        return await self._view(session, with_pending=False)

    async def list_sessions(
        self, actor: Actor, *, cursor: str | None = None, limit: int = 20
    ) -> SessionPage:
        require_scope(actor, "agents:chat")
        query: dict[str, Any] = {"user_id": actor.user_id}
        if cursor:
            if not _oid(cursor):
                raise Unprocessable("The cursor is not valid.", code="INVALID_CURSOR")
            query["_id"] = {"$lt": ObjectId(cursor)}
        raws = (
            await ChatSession.get_pymongo_collection()
            .find(query)
            .sort("_id", -1)
            .limit(limit + 1)
            .to_list()
        )
        sessions = [ChatSession.model_validate(r) for r in raws[:limit]]
        return SessionPage(
            items=[await self._view(s, with_pending=False) for s in sessions],
            next_cursor=str(sessions[-1].id) if len(raws) > limit and sessions else None,
        )

    async def get_session(self, actor: Actor, session_id: str) -> SessionView:
        return await self._view(await self._session(actor, session_id))

    async def delete_session(self, actor: Actor, session_id: str) -> None:
        session = await self._session(actor, session_id)
        await ChatMessage.get_pymongo_collection().delete_many({"session_id": session.id})
        await ChatApproval.get_pymongo_collection().delete_many({"session_id": session.id})
        await self.checkpointer.adelete_thread(str(session.id))
        await ChatSession.get_pymongo_collection().delete_one({"_id": session.id})
        self.opener.known.forget(ObjectId(session.id))

    async def list_messages(
        self, actor: Actor, session_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> MessagePage:
        """Newest first; `cursor` = the `nextCursor` of the previous page (older messages)."""
        session = await self._session(actor, session_id)
        query: dict[str, Any] = {"session_id": session.id}
        if cursor:
            if not _oid(cursor):
                raise Unprocessable("The cursor is not valid.", code="INVALID_CURSOR")
            query["_id"] = {"$lt": ObjectId(cursor)}
        raws = (
            await ChatMessage.get_pymongo_collection()
            .find(query)
            .sort("_id", -1)
            .limit(limit + 1)
            .to_list()
        )
        items = [ChatMessage.model_validate(r) for r in raws[:limit]]
        return MessagePage(
            items=[message_view(m) for m in items],
            next_cursor=str(items[-1].id) if len(raws) > limit and items else None,
        )

    # ------------------------------------------------------------------ runs

    async def lock(self, session_id: Any) -> str:
        token = await self.locks.take(session_id)
        if token is None:
            raise Conflict(
                "This chat is answering another message; wait for it to finish.",
                code="SESSION_BUSY",
            )
        self.checkpointer.unprime(str(session_id))  # only what is read under this lock counts
        return token

    async def unlock(self, session_id: Any, token: str) -> None:
        self.checkpointer.unprime(str(session_id))
        await self.locks.release(session_id, token)

    async def settle(self, session_id: Any) -> None:
        """The run holding the lock ended complete (see `MongoCheckpointSaver.settle`)."""
        await self.checkpointer.settle(str(session_id))

    async def send(
        self, actor: Actor, session_id: str, content: str, *, agent: str | None = None
    ) -> ChatRun:
        """Check and store the user's message; the returned run answers it."""
        require_scope(actor, "agents:chat")
        text = content.strip()
        if not text:
            raise Unprocessable("The message is empty.", code="MESSAGE_EMPTY")
        if len(content) > self.config.max_message_chars:
            raise Unprocessable(
                f"A message has at most {self.config.max_message_chars} characters.",
                code="MESSAGE_TOO_LONG",
                details=[{"field": "content", "message": f"{len(content)} characters"}],
            )
        sid = _oid(session_id)
        if sid is None:
            raise session_not_found()
        return await self.opener.open(actor, sid, content, text, agent)

    async def decide(
        self, actor: Actor, session_id: str, approval_id: str, approve: bool
    ) -> ChatRun:
        """Record the user's answer to an approval; the returned run resumes the graph."""
        require_scope(actor, "agents:chat")
        session = await self._session(actor, session_id)
        approval = await self.approvals.in_session(session.id, approval_id)
        if approval.status != "pending":
            raise ApprovalDecided()
        await self.llm_factory.ensure_available()
        token = await self.lock(session.id)
        try:
            graph = self.compiled(approval.agent)
            state = await graph.aget_state({"configurable": {"thread_id": str(session.id)}})
            waiting = [i.value.get("approvalId") for i in state.interrupts]
            if not waiting or waiting[0] != approval_id:
                raise Conflict(
                    "This approval is not the one the chat is waiting for.",
                    code="APPROVAL_NOT_PENDING",
                )
            await self.approvals.decide(approval, approve)
            return ChatRun(
                host=self,
                actor=actor,
                session_id=session.id,
                agent=approval.agent,
                routed_by="approval",
                graph_input=Command(resume={"approve": approve}),
                lock_token=token,
                graph=graph,
            )
        except BaseException:
            await self.unlock(session.id, token)
            raise
