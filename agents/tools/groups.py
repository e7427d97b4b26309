"""Family and workspace tools (FamilyManager / WorkspaceManager share one shape).

Groups are named by id or by name; when the user belongs to exactly one group of the kind,
the argument may be left out. Members are named by username.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pydantic import Field

from agents.tools.registry import REGISTRY, ToolArgs, ToolContext
from server.core.errors import BadRequest, NotFound
from server.groups.schemas import (
    DecisionRequest,
    FreezeRequest,
    InvitationCreate,
    RoleChange,
    TokenRequestCreate,
    WalletPermissionsUpdate,
)


def _manager(ctx: ToolContext, kind: str) -> Any:
    return ctx.services.families if kind == "family" else ctx.services.workspaces


async def resolve_group(ctx: ToolContext, kind: str, ref: str | None) -> str:
    """The id of the group the user means (by id, by name, or their only one)."""
    if ref and ObjectId.is_valid(ref.strip()):
        return ref.strip()
    mine = await _manager(ctx, kind).list_mine(ctx.actor)
    if ref:
        wanted = ref.strip().lower()
        matches = [g for g in mine if g.name.lower() == wanted] or [
            g for g in mine if wanted in g.name.lower()
        ]
        if len(matches) == 1:
            return str(matches[0].id)
        names = ", ".join(f"{g.name} ({g.id})" for g in mine) or "none"
        raise NotFound(
            f"No single {kind} matches {ref!r}. Yours: {names}.", code=f"{kind.upper()}_NOT_FOUND"
        )
    if len(mine) == 1:
        return str(mine[0].id)
    if not mine:
        raise NotFound(f"You are not in any {kind}.", code=f"{kind.upper()}_NOT_FOUND")
    names = ", ".join(f"{g.name} ({g.id})" for g in mine)
    raise BadRequest(f"Which {kind}? Yours: {names}.", code="AMBIGUOUS_GROUP")


async def resolve_member(ctx: ToolContext, kind: str, group_id: str, username: str) -> str:
    members = await _manager(ctx, kind).list_members(ctx.actor, group_id)
    wanted = username.strip().lower().lstrip("@")
    for m in members:
        if m.username == wanted:
            return str(m.user_id)
    raise NotFound(f"{username!r} is not a member of this {kind}.", code="MEMBER_NOT_FOUND")


def register_group_tools(kind: str) -> None:
    label = kind
    ref_help = f"The {label}'s id or name; leave empty if the user is in only one {label}"

    class GroupArgs(ToolArgs):
        group: str | None = Field(None, max_length=100, description=ref_help)

    class StatusArgs(GroupArgs):
        status: str | None = Field(
            None, description="Filter by status (pending, accepted, declined, expired...)"
        )

    class InviteArgs(GroupArgs):
        username: str = Field(..., min_length=1, max_length=50, description="Who to invite")
        role: str | None = Field(None, max_length=20, description="Role to give (optional)")
        relationship: str | None = Field(
            None, max_length=30, description="How they relate to the user (families only)"
        )

    class PermissionArgs(GroupArgs):
        username: str = Field(..., min_length=1, max_length=50, description="The member")
        can_spend: bool = Field(..., description="May this member spend from the wallet")
        per_transaction_limit: int = Field(-1, ge=-1, description="-1 = unlimited")
        monthly_limit: int = Field(-1, ge=-1, description="-1 = unlimited")

    class FreezeArgs(GroupArgs):
        reason: str = Field(..., min_length=3, max_length=500, description="Why")

    class RequestArgs(GroupArgs):
        amount: int = Field(..., gt=0, description="Whole number of tokens")
        reason: str = Field(..., min_length=5, max_length=500, description="Why (5+ chars)")

    class DecisionArgs(GroupArgs):
        request_id: str = Field(..., min_length=24, max_length=24, description="Request id")
        comment: str | None = Field(None, max_length=500)

    class RoleArgs(GroupArgs):
        username: str = Field(..., min_length=1, max_length=50, description="The member")
        role: str = Field(..., min_length=1, max_length=20, description="The new role")

    def named(name: str) -> str:
        return f"{kind}_{name}"

    @REGISTRY.tool(named("list"), f"The {label}s the user belongs to.", area=kind)
    async def list_groups(ctx: ToolContext, args: ToolArgs) -> Any:
        return await _manager(ctx, kind).list_mine(ctx.actor)

    @REGISTRY.tool(named("info"), f"Details of a {label}.", area=kind, args=GroupArgs)
    async def info(ctx: ToolContext, args: GroupArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).get(ctx.actor, gid)

    @REGISTRY.tool(named("members"), f"The members of a {label}.", area=kind, args=GroupArgs)
    async def members(ctx: ToolContext, args: GroupArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).list_members(ctx.actor, gid)

    @REGISTRY.tool(
        named("invitations"),
        f"Invitations sent by a {label} (admins only), e.g. who has not accepted yet "
        "(status=pending).",
        area=kind,
        args=StatusArgs,
    )
    async def invitations(ctx: ToolContext, args: StatusArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).list_invitations(ctx.actor, gid, args.status)

    @REGISTRY.tool(
        named("invite"),
        f"Invite a registered user to a {label} (admins only).",
        area=kind,
        args=InviteArgs,
        mutating=True,
    )
    async def invite(ctx: ToolContext, args: InviteArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        view, _ = await _manager(ctx, kind).invite(
            ctx.actor,
            gid,
            InvitationCreate(
                username=args.username, role=args.role, relationship=args.relationship
            ),
        )
        return view

    @REGISTRY.tool(
        named("wallet"),
        f"The {label} wallet: balance, frozen state and each member's spending permissions.",
        area=kind,
        args=GroupArgs,
    )
    async def wallet(ctx: ToolContext, args: GroupArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).wallet(ctx.actor, gid)

    @REGISTRY.tool(
        named("set_permissions"),
        f"Set a member's spending permissions on the {label} wallet (admins only; needs the "
        "user's approval).",
        area=kind,
        args=PermissionArgs,
        mutating=True,
        needs_approval=True,
    )
    async def set_permissions(ctx: ToolContext, args: PermissionArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        uid = await resolve_member(ctx, kind, gid, args.username)
        return await _manager(ctx, kind).set_permissions(
            ctx.actor,
            gid,
            uid,
            WalletPermissionsUpdate(
                can_spend=args.can_spend,
                per_transaction_limit=args.per_transaction_limit,
                monthly_limit=args.monthly_limit,
            ),
        )

    @REGISTRY.tool(
        named("freeze"),
        f"Freeze the {label} wallet so nothing can be spent (admins only; needs approval).",
        area=kind,
        args=FreezeArgs,
        mutating=True,
        needs_approval=True,
    )
    async def freeze(ctx: ToolContext, args: FreezeArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).freeze(ctx.actor, gid, FreezeRequest(reason=args.reason))

    @REGISTRY.tool(
        named("unfreeze"),
        f"Unfreeze the {label} wallet (admins only; needs approval).",
        area=kind,
        args=GroupArgs,
        mutating=True,
        needs_approval=True,
    )
    async def unfreeze(ctx: ToolContext, args: GroupArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).unfreeze(ctx.actor, gid)

    @REGISTRY.tool(
        named("token_request_create"),
        f"Ask the {label} wallet for tokens with a reason; small amounts are paid at once "
        "(needs approval).",
        area=kind,
        args=RequestArgs,
        mutating=True,
        needs_approval=True,
    )
    async def request_create(ctx: ToolContext, args: RequestArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).create_token_request(
            ctx.actor, gid, TokenRequestCreate(amount=args.amount, reason=args.reason)
        )

    @REGISTRY.tool(
        named("token_requests"),
        f"Token requests of a {label} (admins see all, members their own).",
        area=kind,
        args=StatusArgs,
    )
    async def requests(ctx: ToolContext, args: StatusArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).list_requests(ctx.actor, gid, args.status)

    @REGISTRY.tool(
        named("token_request_approve"),
        f"Approve a pending token request and pay it from the {label} wallet (admins only; "
        "needs approval).",
        area=kind,
        args=DecisionArgs,
        mutating=True,
        needs_approval=True,
    )
    async def approve(ctx: ToolContext, args: DecisionArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).approve_request(
            ctx.actor, gid, args.request_id, DecisionRequest(comment=args.comment)
        )

    @REGISTRY.tool(
        named("token_request_deny"),
        f"Deny a pending token request of the {label} (admins only; needs approval).",
        area=kind,
        args=DecisionArgs,
        mutating=True,
        needs_approval=True,
    )
    async def deny(ctx: ToolContext, args: DecisionArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        return await _manager(ctx, kind).deny_request(
            ctx.actor, gid, args.request_id, DecisionRequest(comment=args.comment)
        )

    @REGISTRY.tool(
        named("change_role"),
        f"Change a member's role in the {label} (admins only; needs approval).",
        area=kind,
        args=RoleArgs,
        mutating=True,
        needs_approval=True,
    )
    async def change_role(ctx: ToolContext, args: RoleArgs) -> Any:
        gid = await resolve_group(ctx, kind, args.group)
        uid = await resolve_member(ctx, kind, gid, args.username)
        return await _manager(ctx, kind).change_role(
            ctx.actor, gid, uid, RoleChange(role=args.role)
        )


register_group_tools("family")
register_group_tools("workspace")
