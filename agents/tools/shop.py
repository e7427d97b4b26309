"""Shop tools: search the catalogue, buy or rent, inventory (ShopManager)."""

from __future__ import annotations

from typing import Any, Literal

from bson import ObjectId
from pydantic import Field

from agents.tools.groups import resolve_group
from agents.tools.registry import REGISTRY, NoArgs, ToolArgs, ToolContext
from server.core.errors import NotFound, ServiceUnavailable
from server.shop.schemas import PayWith, PurchaseRequest


class SearchArgs(ToolArgs):
    query: str | None = Field(None, max_length=100, description="Words to look for in names")
    type: Literal["theme", "avatar", "banner", "bundle"] | None = Field(
        None, description="Only this kind of item"
    )


class BuyArgs(ToolArgs):
    item: str = Field(..., min_length=1, max_length=100, description="Item id, slug or name")
    rent: bool = Field(False, description="Rent for a while instead of buying")
    pay_with: Literal["own", "family", "workspace"] = Field(
        "own", description="Pay from the user's own wallet, a family or a workspace wallet"
    )
    group: str | None = Field(
        None, max_length=100, description="The family or workspace (id or name) when shared"
    )


def _shop(ctx: ToolContext) -> Any:
    shop = getattr(ctx.services, "shop", None)
    if shop is None:
        raise ServiceUnavailable("The shop is not available.")
    return shop


async def _catalogue(ctx: ToolContext, type_: str | None = None) -> list[Any]:
    page = await _shop(ctx).list_items(ctx.actor, type_=type_, limit=200)
    return list(page.items)


def _matches(item: Any, words: list[str]) -> bool:
    haystack = f"{item.slug} {item.name} {item.description}".lower()
    return all(w in haystack for w in words)


@REGISTRY.tool(
    "shop_search",
    "Search the shop catalogue (themes, avatars, banners, bundles) with prices.",
    area="shop",
    args=SearchArgs,
)
async def shop_search(ctx: ToolContext, args: SearchArgs) -> Any:
    items = await _catalogue(ctx, args.type)
    words = (args.query or "").lower().split()
    if args.type:
        words = [w for w in words if w.rstrip("s") != args.type]
    return {"items": [i for i in items if _matches(i, words)]}


async def resolve_item(ctx: ToolContext, ref: str) -> str:
    ref = ref.strip()
    if ObjectId.is_valid(ref):
        return ref
    items = await _catalogue(ctx)
    lowered = ref.lower()
    exact = [i for i in items if lowered in (i.slug, i.name.lower())]
    found = exact or [i for i in items if _matches(i, lowered.split())]
    if len(found) == 1:
        return str(found[0].id)
    names = ", ".join(f"{i.name} ({i.id})" for i in found[:10]) or "none"
    raise NotFound(f"No single item matches {ref!r}. Candidates: {names}.", code="ITEM_NOT_FOUND")


@REGISTRY.tool(
    "shop_buy",
    "Buy (or rent) a shop item with the user's own wallet or a family/workspace wallet. "
    "Spends tokens: the user must approve it.",
    area="shop",
    args=BuyArgs,
    mutating=True,
    needs_approval=True,
)
async def shop_buy(ctx: ToolContext, args: BuyArgs) -> Any:
    item_id = await resolve_item(ctx, args.item)
    pay_with = None
    if args.pay_with == "family":
        pay_with = PayWith(family_id=await resolve_group(ctx, "family", args.group))
    elif args.pay_with == "workspace":
        pay_with = PayWith(workspace_id=await resolve_group(ctx, "workspace", args.group))
    outcome = await _shop(ctx).purchase(
        ctx.actor,
        PurchaseRequest(item_id=item_id, rent=args.rent, pay_with=pay_with),
        idempotency_key=f"agent-{ctx.call_id}",
    )
    return outcome.value


@REGISTRY.tool(
    "shop_inventory",
    "What the user owns or rents from the shop.",
    area="shop",
    args=NoArgs,
)
async def shop_inventory(ctx: ToolContext, args: NoArgs) -> Any:
    return await _shop(ctx).inventory(ctx.actor)
