"""Family and workspace tools (both kinds share the `GroupManager` facade).

Groups are named by id or by name; when the user belongs to exactly one group of the kind,
the argument may be left out. Members are named by username.
"""

from __future__ import annotations

from typing import Annotated, Any

from bson import ObjectId
from msgspec import Meta

from agents.tools.registry import REGISTRY, ToolArgs, ToolContext
from server.core.errors import BadRequest, NotFound
from server.core.wire import ObjectIdStr, convert
from server.groups.hooks import KindRules
from server.groups.manager import GroupManager
from server.groups.schemas import (
    Amount,
    Comment,
    DecisionRequest,
    FreezeRequest,
    InvitationCreate,
    Limit,
    Reason,
    RelationshipName,
    RoleChange,
    RoleName,
    TokenRequestCreate,
    WalletPermissionsUpdate,
)

# Flat argument Structs shared by the family and workspace tools, built from the wire
# schemas' own constrained types (so a tool refuses what the HTTP API refuses).
GroupRef = Annotated[
    str,
    Meta(
        max_length=100,
        description="The family's or workspace's id or name; leave empty if the user is in "
        "only one",
    ),
]
Member = Annotated[str, Meta(min_length=1, max_length=50, description="The member's username")]


class GroupArgs(ToolArgs):
    group: GroupRef | None = None


class StatusArgs(GroupArgs, kw_only=True):
    status: (
        Annotated[
            str,
            Meta(
                max_length=20,
                description="Filter by status (pending, accepted, declined, expired...)",
            ),
        ]
        | None
    ) = None


class InviteArgs(GroupArgs, kw_only=True):
    username: Annotated[str, Meta(min_length=1, max_length=50, description="Who to invite")]
    role: Annotated[RoleName, Meta(description="Role to give (optional)")] | None = None
    relationship: (
        Annotated[RelationshipName, Meta(description="How they relate to the user (families)")]
        | None
    ) = None


class PermissionArgs(GroupArgs, kw_only=True):
    username: Member
    can_spend: Annotated[bool, Meta(description="May this member spend from the wallet")]
    per_transaction_limit: Annotated[Limit, Meta(description="-1 = unlimited")] = -1
    monthly_limit: Annotated[Limit, Meta(description="-1 = unlimited")] = -1


class FreezeArgs(GroupArgs, kw_only=True):
    reason: Annotated[str, Meta(min_length=3, max_length=500, description="Why")]


class RequestArgs(GroupArgs, kw_only=True):
    amount: Annotated[Amount, Meta(description="Whole number of tokens")]
    reason: Annotated[Reason, Meta(description="Why (5+ chars)")]


class DecisionArgs(GroupArgs, kw_only=True):
    request_id: Annotated[ObjectIdStr, Meta(description="Request id")]
    comment: Comment | None = None


class RoleArgs(GroupArgs, kw_only=True):
    username: Member
    role: Annotated[RoleName, Meta(description="The new role")]


def _manager(ctx: ToolContext, kind: str) -> GroupManager[KindRules]:
    """The kind's facade, typed: renaming a manager method makes mypy flag these tools."""
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
            convert(
                {"username": args.username, "role": args.role, "relationship": args.relationship},
                InvitationCreate,
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
            convert(
                {
                    "canSpend": args.can_spend,
                    "perTransactionLimit": args.per_transaction_limit,
                    "monthlyLimit": args.monthly_limit,
                },
                WalletPermissionsUpdate,
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
        cmd = convert({"reason": args.reason}, FreezeRequest)
        return await _manager(ctx, kind).freeze(ctx.actor, gid, cmd)

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
        cmd = convert({"amount": args.amount, "reason": args.reason}, TokenRequestCreate)
        return await _manager(ctx, kind).create_token_request(ctx.actor, gid, cmd)

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
        cmd = convert({"comment": args.comment}, DecisionRequest)
        return await _manager(ctx, kind).approve_request(ctx.actor, gid, args.request_id, cmd)

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
        cmd = convert({"comment": args.comment}, DecisionRequest)
        return await _manager(ctx, kind).deny_request(ctx.actor, gid, args.request_id, cmd)

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
            ctx.actor, gid, uid, convert({"role": args.role}, RoleChange)
        )


register_group_tools("family")
register_group_tools("workspace")
