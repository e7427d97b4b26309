"""Voice sessions: a chat session for the transcripts and a LiveKit token for the room.

The only write path of the voice feature on the api side: `start_session` (rate limited,
503 when LiveKit is not configured) and `decide_approval` (a tap answering the question
the voice agent asked aloud).
"""

from __future__ import annotations

from beanie import PydanticObjectId
from redis.asyncio import Redis

from agents.approvals import ApprovalDecided, Approvals
from agents.catalog import AGENTS
from agents.documents import ChatSession
from agents.voice.approvals import ApprovalBroker
from agents.voice.config import VoiceConfig
from agents.voice.schemas import (
    APPROVAL_RESOLVED,
    ApprovalDecision,
    ApprovalDecisionView,
    ApprovalResolvedEvent,
    VoiceSessionRequest,
    VoiceSessionView,
)
from agents.voice.tokens import mint_token
from auth.ratelimit import RateLimiter
from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.errors import NotFound, ServiceUnavailable, Unprocessable
from server.core.wire import validate


class VoiceUnavailable(ServiceUnavailable):
    code = "VOICE_UNAVAILABLE"


class VoiceManager:
    def __init__(
        self, *, redis: Redis, bus: EventBus, config: VoiceConfig, approvals: Approvals
    ) -> None:
        self._bus = bus
        self._approvals = approvals  # the one store shared with chat and MCP
        self.config = config
        self.limits = RateLimiter(redis, prefix="rl:voice")
        self.broker = ApprovalBroker(redis)

    async def start_session(self, actor: Actor, cmd: VoiceSessionRequest) -> VoiceSessionView:
        # cmd.identity / cmd.room / cmd.name are deliberately never read.
        cmd = validate(cmd)
        require_scope(actor, "agents:chat")
        if not self.config.livekit_configured:
            raise VoiceUnavailable("Voice is not available on this server.")
        if cmd.agent is not None and cmd.agent not in AGENTS:
            raise Unprocessable(
                f"Unknown agent {cmd.agent!r}.",
                code="UNKNOWN_AGENT",
                details=[{"field": "agent", "allowed": sorted(AGENTS)}],
            )
        await self.limits.hit(
            "sessions", str(actor.user_id), limit=self.config.sessions_per_minute, window=60
        )
        chat = ChatSession(
            user_id=PydanticObjectId(str(actor.user_id)),
            agent=cmd.agent,
            title="Voice conversation",
        )
        await chat.insert()
        grant = mint_token(self.config, actor, str(chat.id), cmd.agent)
        return VoiceSessionView(
            url=grant.url,
            token=grant.token,
            room=grant.room,
            expires_at=grant.expires_at.isoformat(),
            chat_session_id=grant.chat_session_id,
            agent=grant.agent,
        )

    async def decide_approval(
        self, actor: Actor, chat_session_id: str, approval_id: str, cmd: ApprovalDecision
    ) -> ApprovalDecisionView:
        """Answer a pending voice approval with a tap (first answer wins: 409
        `APPROVAL_DECIDED` after, whichever of chat, voice or MCP answered first)."""
        cmd = validate(cmd)
        require_scope(actor, "agents:chat")
        if not PydanticObjectId.is_valid(chat_session_id):
            raise NotFound("No such pending voice approval.", code="APPROVAL_NOT_FOUND")
        # Answered already in the text chat (or by MCP): the broker alone would not know.
        session_id = PydanticObjectId(chat_session_id)
        if await self._approvals.decided(session_id, approval_id, actor.user_id):
            raise ApprovalDecided()
        decision = await self.broker.decide(
            approval_id,
            user_id=str(actor.user_id),
            chat_session_id=chat_session_id,
            approved=cmd.approve,
            by="tap",
        )
        # The worker publishes the resolution too once it resumes; this one is immediate so
        # the user's other devices drop the prompt at once.
        await self._bus.publish(
            user_channel(actor.user_id),
            APPROVAL_RESOLVED,
            ApprovalResolvedEvent(
                chat_session_id=chat_session_id,
                approval_id=approval_id,
                approved=decision.approved,
                by=decision.by,
            ),
        )
        return ApprovalDecisionView(
            approval_id=approval_id, approved=decision.approved, by=decision.by
        )
