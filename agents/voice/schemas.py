"""Wire types of the voice agent: the token endpoint and the events on `user:{id}`."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from server.core.wire import Input, Output

AgentName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z_]{1,30}$")]


class VoiceSessionRequest(Input):
    """`agent` names the chat agent (default: the router picks one per utterance).

    `identity`, `room` and `name` are accepted so older clients keep working, and ignored:
    the server alone chooses who joins which room."""

    agent: AgentName | None = None
    identity: str | None = None
    room: str | None = None
    name: str | None = None


class VoiceSessionView(Output):
    url: str
    token: str
    room: str
    expires_at: str
    chat_session_id: str
    agent: str | None


class ApprovalDecision(Input):
    approve: bool


class ApprovalDecisionView(Output):
    approval_id: str
    approved: bool
    by: str


# --- events on `user:{id}` ----------------------------------------------------------------

TRANSCRIPT = "voice.transcript"
APPROVAL_REQUIRED = "voice.approval_required"
APPROVAL_RESOLVED = "voice.approval_resolved"


class TranscriptEvent(Output):
    """One final turn of a voice conversation (also stored in the chat session)."""

    chat_session_id: str
    role: str  # "user" | "assistant"
    text: str
    message_id: str | None = None
    interrupted: bool = False


class ApprovalRequiredEvent(Output):
    """The voice agent asked aloud; the client may also answer with a tap
    (`POST /api/v1/voice/sessions/{chatSessionId}/approvals/{approvalId}`)."""

    chat_session_id: str
    approval_id: str
    tool: str
    args: dict[str, Any]
    description: str
    prompt: str
    answer_path: str
    expires_at: str


class ApprovalResolvedEvent(Output):
    chat_session_id: str
    approval_id: str
    approved: bool
    by: str  # "voice" | "tap" | "timeout"


EVENT_TYPES: dict[str, type[Any]] = {
    TRANSCRIPT: TranscriptEvent,
    APPROVAL_REQUIRED: ApprovalRequiredEvent,
    APPROVAL_RESOLVED: ApprovalResolvedEvent,
}
