"""Wallet tools: balance, history, transfer (WalletManager)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from agents.tools.registry import REGISTRY, NoArgs, ToolArgs, ToolContext
from server.core.wire import convert
from server.wallet.schemas import MAX_AMOUNT, MemoIn, TransferRequest, UsernameRef


class HistoryArgs(ToolArgs):
    limit: Annotated[int, Meta(ge=1, le=50, description="How many recent transfers (1-50)")] = 10


class TransferArgs(ToolArgs):
    to_username: Annotated[UsernameRef, Meta(description="Recipient username")]
    amount: Annotated[int, Meta(gt=0, le=MAX_AMOUNT, description="Whole number of tokens to send")]
    memo: Annotated[MemoIn, Meta(description="Optional note")] | None = None


@REGISTRY.tool(
    "wallet_balance",
    "The user's own wallet: balance and whether it is frozen.",
    area="wallet",
    args=NoArgs,
)
async def wallet_balance(ctx: ToolContext, args: NoArgs) -> Any:
    return await ctx.services.wallet.my_wallet(ctx.actor)


@REGISTRY.tool(
    "wallet_history",
    "The user's most recent wallet transfers, newest first.",
    area="wallet",
    args=HistoryArgs,
)
async def wallet_history(ctx: ToolContext, args: HistoryArgs) -> Any:
    return await ctx.services.wallet.list_transfers(ctx.actor, limit=args.limit)


@REGISTRY.tool(
    "wallet_transfer",
    "Send tokens from the user's own wallet to another user (by username). Moves money: "
    "the user must approve it.",
    area="wallet",
    args=TransferArgs,
    mutating=True,
    needs_approval=True,
)
async def wallet_transfer(ctx: ToolContext, args: TransferArgs) -> Any:
    outcome = await ctx.services.wallet.transfer(
        ctx.actor,
        convert(
            {"to": {"username": args.to_username}, "amount": args.amount, "memo": args.memo},
            TransferRequest,
        ),
        idempotency_key=f"agent-{ctx.call_id}",
    )
    return outcome.value
