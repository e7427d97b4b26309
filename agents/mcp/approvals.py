"""MCP approvals parked in the app: the same store as the chat's (`ChatApproval`).

A tool that needs approval, called by an MCP client that cannot ask its user (no
elicitation, or no answer in time), is parked here as a pending approval (`source="mcp"`)
and announced on the user's channel (`mcp.approval_requested`). The user answers it in the
app (`POST /api/v1/chat/approvals/{id}`): approving runs the tool with the stored arguments
and the scopes of the token that asked (never more), denying runs nothing; either way
`mcp.approval_resolved` follows. Records and events are written in one transaction, so an
event never announces an approval that was not stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

from agents.approvals import ApprovalDecided
from agents.documents import ChatApproval
from agents.mcp.execute import ToolOutcome, denied, run_tool
from agents.mcp.schemas import (
    APPROVAL_REQUESTED,
    APPROVAL_RESOLVED,
    ApprovalOutcome,
    McpApprovalRequestedEvent,
    McpApprovalResolvedEvent,
    PendingApprovalView,
)
from agents.tools.registry import Registry, ToolArgs, ToolSpec
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.errors import Conflict, NotFound

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Services


def pending_view(a: ChatApproval) -> PendingApprovalView:
    return PendingApprovalView(
        id=a.approval_id,
        source=a.source,
        session_id=str(a.session_id) if a.session_id is not None else None,
        agent=a.agent,
        tool=a.tool,
        args=a.args,
        description=a.description,
        status=a.status,
        created_at=a.created_at,
    )


class McpApprovals:
    def __init__(self, *, services: Services, registry: Registry) -> None:
        self._services = services
        self._registry = registry

    async def park(self, actor: Actor, spec: ToolSpec, args: dict[str, Any], call_id: str) -> str:
        """Store the call as a pending approval and announce it; returns its id."""
        approval = ChatApproval(
            approval_id=call_id,
            session_id=None,
            source="mcp",
            user_id=actor.user_id,
            agent="mcp",
            tool=spec.name,
            args=args,
            description=spec.describe(args),
            scopes=sorted(actor.scopes) if actor.scopes is not None else None,
        )
        doc = approval.model_dump(exclude={"id"})

        async def work(tx: Tx) -> None:
            await ChatApproval.get_pymongo_collection().insert_one(doc, session=tx.session)
            tx.publish(
                user_channel(actor.user_id),
                APPROVAL_REQUESTED,
                McpApprovalRequestedEvent(
                    approval_id=call_id,
                    tool=spec.name,
                    args=args,
                    description=approval.description,
                ),
            )

        await run_in_transaction(self._services.mongo, work, publisher=self._services.bus)
        return call_id

    async def pending(self, actor: Actor, *, limit: int = 50) -> list[PendingApprovalView]:
        """Every approval waiting for this user: chat and MCP, newest first."""
        require_scope(actor, "agents:chat")
        raws = (
            await ChatApproval.get_pymongo_collection()
            .find({"user_id": actor.user_id, "status": "pending"})
            .sort("_id", -1)
            .limit(limit)
            .to_list()
        )
        return [pending_view(ChatApproval.model_validate(r)) for r in raws]

    async def decide(self, actor: Actor, approval_id: str, approve: bool) -> ApprovalOutcome:
        """Answer a parked MCP approval: approving runs the tool now, as the user, with the
        scopes of the token that asked."""
        require_scope(actor, "agents:chat")
        col = ChatApproval.get_pymongo_collection()
        raw = await col.find_one({"approval_id": approval_id, "user_id": actor.user_id})
        if raw is None:
            raise NotFound("No such approval.", code="APPROVAL_NOT_FOUND")
        approval = ChatApproval.model_validate(raw)
        if approval.source != "mcp":
            raise Conflict(
                "This approval belongs to a chat; answer it in that chat.",
                code="CHAT_APPROVAL",
                details=[{"sessionId": str(approval.session_id)}],
            )
        decided = await col.find_one_and_update(
            {"_id": approval.id, "status": "pending"},
            {"$set": {"status": "approved" if approve else "denied", "decided_at": utcnow()}},
        )
        if decided is None:
            raise ApprovalDecided()
        spec = self._registry.get(approval.tool)
        outcome: ToolOutcome
        if not approve or spec is None:
            outcome = denied()
        else:
            runner = Actor(
                user_id=actor.user_id,
                username=actor.username,
                roles=actor.roles,
                auth_method=actor.auth_method,
                channel="agent",
                session_id=actor.session_id,
                client_ip=actor.client_ip,
                user_agent=actor.user_agent,
                scopes=frozenset(approval.scopes) if approval.scopes is not None else actor.scopes,
                mfa=actor.mfa,
                auth_time=actor.auth_time,
            )
            args: ToolArgs = spec.parse(approval.args)
            outcome = await run_tool(self._services, runner, spec, args, approval.approval_id)
        status = "approved" if approve else "denied"
        await self._announce_resolved(actor.user_id, approval, status, outcome.status)
        return ApprovalOutcome(
            id=approval.approval_id,
            tool=approval.tool,
            status=status,
            result_status=outcome.status,
            result=outcome.payload,
        )

    async def _announce_resolved(
        self, user_id: ObjectId, approval: ChatApproval, status: str, result_status: str
    ) -> None:
        event = McpApprovalResolvedEvent(
            approval_id=approval.approval_id,
            tool=approval.tool,
            status=status,
            result_status=result_status,
        )
        await self._services.bus.publish(user_channel(user_id), APPROVAL_RESOLVED, event)
