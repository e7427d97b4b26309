"""Wire types of the MCP area: approvals in the app and the `mcp.*` events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.core.wire import Input, Output

APPROVAL_REQUESTED = "mcp.approval_requested"
APPROVAL_RESOLVED = "mcp.approval_resolved"


class PendingApprovalView(Output):
    id: str
    source: str  # chat | mcp
    session_id: str | None
    agent: str
    tool: str
    args: dict[str, Any]
    description: str
    status: str
    created_at: datetime


class ApprovalAnswer(Input):
    approve: bool


class ApprovalOutcome(Output):
    id: str
    tool: str
    status: str  # approved | denied
    result_status: str  # ok | error | denied
    result: Any


class McpApprovalRequestedEvent(Output):
    approval_id: str
    tool: str
    args: dict[str, Any]
    description: str


class McpApprovalResolvedEvent(Output):
    approval_id: str
    tool: str
    status: str  # approved | denied
    result_status: str  # ok | error | denied


EVENT_TYPES: dict[str, type[Any]] = {
    APPROVAL_REQUESTED: McpApprovalRequestedEvent,
    APPROVAL_RESOLVED: McpApprovalResolvedEvent,
}


class PendingApprovalPage(Output):
    """A page of my pending approvals, newest first (`nextCursor` null on the last)."""

    items: list[PendingApprovalView]
    next_cursor: str | None = None
