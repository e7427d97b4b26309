"""The one approvals store (`ChatApproval` documents) and the one "already decided" error,
shared by the chat, the voice agent and MCP: a pending approval is answered once, by a
compare-and-set on `status: pending`; every later answer gets 409 `APPROVAL_DECIDED`."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from agents.documents import ChatApproval
from agents.schemas import ApprovalView
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Conflict, NotFound

APPROVAL_DECIDED = "APPROVAL_DECIDED"


class ApprovalDecided(Conflict):
    """A second answer to an approval (chat, voice tap or voice answer, MCP)."""

    code = APPROVAL_DECIDED

    def __init__(self) -> None:
        super().__init__("This approval was already answered.", code=APPROVAL_DECIDED)


def approval_view(a: ChatApproval) -> ApprovalView:
    return ApprovalView(
        id=a.approval_id,
        agent=a.agent,
        tool=a.tool,
        args=a.args,
        description=a.description,
        status=a.status,
        created_at=a.created_at,
        decided_at=a.decided_at,
    )


class Approvals:
    """Parked tool calls waiting for the user's yes or no."""

    @staticmethod
    def _col() -> Any:
        return ChatApproval.get_pymongo_collection()

    async def pending(self, session_id: Any, limit: int = 20) -> list[ChatApproval]:
        raws = (
            await self._col().find({"session_id": session_id, "status": "pending"}).to_list(limit)
        )
        return [ChatApproval.model_validate(r) for r in raws]

    async def in_session(self, session_id: Any, approval_id: str) -> ChatApproval:
        """The approval of this chat session, pending or not (404 otherwise)."""
        raw = await self._col().find_one({"session_id": session_id, "approval_id": approval_id})
        if raw is None:
            raise NotFound("No such approval.", code="APPROVAL_NOT_FOUND")
        return ChatApproval.model_validate(raw)

    async def decided(self, session_id: Any, approval_id: str, user_id: ObjectId) -> bool:
        """Whether this user's approval was already answered (by chat, voice or MCP)."""
        raw = await self._col().find_one(
            {"session_id": session_id, "approval_id": approval_id, "user_id": user_id},
            projection={"status": 1},
        )
        return raw is not None and raw.get("status") != "pending"

    async def store(self, actor: Actor, session_id: Any, value: dict[str, Any]) -> ChatApproval:
        """Park an interrupt's approval (idempotent: a resumed run stores it once)."""
        approval = ChatApproval(
            approval_id=str(value["approvalId"]),
            session_id=session_id,
            user_id=actor.user_id,
            agent=str(value.get("agent", "")),
            tool=str(value.get("tool", "")),
            args=dict(value.get("args") or {}),
            description=str(value.get("description", "")),
        )
        await self._col().update_one(
            {"session_id": session_id, "approval_id": approval.approval_id},
            {"$setOnInsert": approval.model_dump(exclude={"id"})},
            upsert=True,
        )
        return approval

    async def decide(self, approval: ChatApproval, approve: bool) -> None:
        """Record the answer once (compare-and-set on pending), else `ApprovalDecided`."""
        decided = await self._col().find_one_and_update(
            {"_id": approval.id, "status": "pending"},
            {"$set": {"status": "approved" if approve else "denied", "decided_at": utcnow()}},
        )
        if decided is None:
            raise ApprovalDecided()
