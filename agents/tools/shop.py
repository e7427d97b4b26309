"""Shop tools: search the catalogue, buy or rent, inventory (ShopManager)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from bson import ObjectId
from msgspec import Meta

from agents.tools.groups import resolve_group
from agents.tools.registry import REGISTRY, NoArgs, ToolArgs, ToolContext
from server.core.errors import NotFound
from server.core.wire import convert
from server.shop.schemas import PurchaseRequest

ItemType = Literal["theme", "avatar", "banner", "bundle"]
PayFrom = Literal["own", "family", "workspace"]


class SearchArgs(ToolArgs):
    query: Annotated[str, Meta(max_length=100, description="Words to look for in names")] | None = (
        None
    )
    type: Annotated[ItemType, Meta(description="Only this kind of item")] | None = None


class BuyArgs(ToolArgs):
    item: Annotated[str, Meta(min_length=1, max_length=100, description="Item id, slug or name")]
    rent: Annotated[bool, Meta(description="Rent for a while instead of buying")] = False
    pay_with: Annotated[
        PayFrom,
        Meta(description="Pay from the user's own wallet, a family or a workspace wallet"),
    ] = "own"
    group: (
        Annotated[
            str,
            Meta(max_length=100, description="The family or workspace (id or name) when shared"),
        ]
        | None
    ) = None


async def _catalogue(ctx: ToolContext, type_: str | None = None) -> list[Any]:
    page = await ctx.services.shop.list_items(ctx.actor, type_=type_, limit=200)
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
        pay_with = {"familyId": await resolve_group(ctx, "family", args.group)}
    elif args.pay_with == "workspace":
        pay_with = {"workspaceId": await resolve_group(ctx, "workspace", args.group)}
    outcome = await ctx.services.shop.purchase(
        ctx.actor,
        convert({"itemId": item_id, "rent": args.rent, "payWith": pay_with}, PurchaseRequest),
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
    return await ctx.services.shop.inventory(ctx.actor)
