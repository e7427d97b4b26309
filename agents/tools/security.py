"""Security tools: sessions, passkeys, two-factor status, recent activity (auth/ managers)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from agents.tools.registry import REGISTRY, NoArgs, ToolArgs, ToolContext
from server.core.wire import ObjectIdStr


class SessionArgs(ToolArgs):
    session_id: Annotated[ObjectIdStr, Meta(description="Session id")]


class ActivityArgs(ToolArgs):
    limit: Annotated[int, Meta(ge=1, le=50)] = 10


@REGISTRY.tool(
    "security_sessions",
    "The user's signed-in sessions (devices, IPs, last use; `current` marks this one).",
    area="security",
    args=NoArgs,
)
async def security_sessions(ctx: ToolContext, args: NoArgs) -> Any:
    return await ctx.services.sessions.list_sessions(ctx.actor)


@REGISTRY.tool(
    "security_revoke_session",
    "Sign out one of the user's sessions (needs approval).",
    area="security",
    args=SessionArgs,
    mutating=True,
    needs_approval=True,
)
async def security_revoke_session(ctx: ToolContext, args: SessionArgs) -> Any:
    await ctx.services.sessions.revoke_session(ctx.actor, args.session_id)
    return {"revoked": args.session_id}


@REGISTRY.tool(
    "security_two_factor",
    "Whether two-factor authentication (TOTP) is on, and how many backup codes are left.",
    area="security",
    args=NoArgs,
)
async def security_two_factor(ctx: ToolContext, args: NoArgs) -> Any:
    return await ctx.services.totp.status(ctx.actor)


@REGISTRY.tool(
    "security_passkeys",
    "The user's passkeys (names, when added and last used).",
    area="security",
    args=NoArgs,
)
async def security_passkeys(ctx: ToolContext, args: NoArgs) -> Any:
    return await ctx.services.webauthn.list(ctx.actor)


@REGISTRY.tool(
    "security_recent_activity",
    "The user's recent security events (logins, password changes, 2FA changes...).",
    area="security",
    args=ActivityArgs,
)
async def security_recent_activity(ctx: ToolContext, args: ActivityArgs) -> Any:
    return await ctx.services.audit.page(ctx.actor, None, args.limit)
