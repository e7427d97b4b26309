"""Personal tools: received invitations (InvitationInbox) and notifications."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from agents.tools.registry import REGISTRY, ToolArgs, ToolContext
from server.core.wire import ObjectIdStr

Status = Annotated[
    str,
    Meta(
        max_length=20,
        description="pending (default), accepted, declined, expired, or empty for all",
    ),
]


class ReceivedArgs(ToolArgs):
    status: Status | None = "pending"


class InvitationArgs(ToolArgs):
    invitation_id: Annotated[ObjectIdStr, Meta(description="Invitation id")]


class NotificationArgs(ToolArgs):
    unread_only: Annotated[bool, Meta(description="Only unread notifications")] = False
    limit: Annotated[int, Meta(ge=1, le=50)] = 10


@REGISTRY.tool(
    "invitations_received",
    "Invitations the user received to families and workspaces.",
    area="personal",
    args=ReceivedArgs,
)
async def invitations_received(ctx: ToolContext, args: ReceivedArgs) -> Any:
    return await ctx.services.invitations.received(ctx.actor, args.status or None)


@REGISTRY.tool(
    "invitation_accept",
    "Accept an invitation the user received (joins that family or workspace).",
    area="personal",
    args=InvitationArgs,
    mutating=True,
)
async def invitation_accept(ctx: ToolContext, args: InvitationArgs) -> Any:
    return await ctx.services.invitations.accept(ctx.actor, args.invitation_id)


@REGISTRY.tool(
    "invitation_decline",
    "Decline an invitation the user received.",
    area="personal",
    args=InvitationArgs,
    mutating=True,
)
async def invitation_decline(ctx: ToolContext, args: InvitationArgs) -> Any:
    return await ctx.services.invitations.decline(ctx.actor, args.invitation_id)


@REGISTRY.tool(
    "notifications_list",
    "The user's recent notifications, newest first.",
    area="personal",
    args=NotificationArgs,
)
async def notifications_list(ctx: ToolContext, args: NotificationArgs) -> Any:
    return await ctx.services.notifications.list(
        ctx.actor, unread=True if args.unread_only else None, limit=args.limit
    )
