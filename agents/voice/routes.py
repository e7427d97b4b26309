"""HTTP routes of the voice agent: thin; the rules live in `VoiceManager`."""

from __future__ import annotations

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agents.voice.manager import VoiceManager
from agents.voice.schemas import (
    ApprovalDecision,
    ApprovalDecisionView,
    VoiceSessionRequest,
    VoiceSessionView,
)
from server.core.actor import Actor


class VoiceController(Controller):
    path = "/api/v1/voice"
    tags = ["voice"]

    @post(
        "/sessions",
        status_code=HTTP_201_CREATED,
        summary="Start a voice conversation: a LiveKit token for a room the server names",
    )
    async def start_session(
        self, actor: Actor, voice: VoiceManager, data: VoiceSessionRequest | None = None
    ) -> VoiceSessionView:
        return await voice.start_session(actor, data or VoiceSessionRequest())

    @post(
        "/sessions/{chat_session_id:str}/approvals/{approval_id:str}",
        status_code=HTTP_200_OK,
        summary="Answer the voice agent's spoken approval question with a tap",
    )
    async def decide_approval(
        self,
        actor: Actor,
        voice: VoiceManager,
        chat_session_id: str,
        approval_id: str,
        data: ApprovalDecision,
    ) -> ApprovalDecisionView:
        return await voice.decide_approval(actor, chat_session_id, approval_id, data)
