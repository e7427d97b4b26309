"""Memory tools over `MemoryManager`, run as the user (channel `agent`). The agent may save
and update memories — each one reaches the user as `memory.saved` — but there is no delete
tool: only the user forgets a memory (the manager refuses the agent channel anyway)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from agents.tools.registry import REGISTRY, NoArgs, ToolArgs, ToolContext
from server.core.wire import ObjectIdStr, convert
from server.memory.schemas import MemoryCreate, MemoryUpdate

Text = Annotated[str, Meta(min_length=1, max_length=2000, description="The fact to remember")]


class SaveArgs(ToolArgs):
    text: Text


class UpdateArgs(ToolArgs):
    memory_id: Annotated[ObjectIdStr, Meta(description="The memory's id")]
    text: Text


@REGISTRY.tool("memory_list", "What I asked you to remember.", area="notes")
async def memory_list(ctx: ToolContext, args: NoArgs) -> Any:
    return await ctx.services.memories.list(ctx.actor)


@REGISTRY.tool(
    "memory_save",
    "Remember a fact about the user when they ask you to ('remember that…').",
    area="notes",
    args=SaveArgs,
    mutating=True,
)
async def memory_save(ctx: ToolContext, args: SaveArgs) -> Any:
    return await ctx.services.memories.create(ctx.actor, convert({"text": args.text}, MemoryCreate))


@REGISTRY.tool(
    "memory_update",
    "Correct a memory; its earlier text stays in its history.",
    area="notes",
    args=UpdateArgs,
    mutating=True,
)
async def memory_update(ctx: ToolContext, args: UpdateArgs) -> Any:
    cmd = convert({"text": args.text}, MemoryUpdate)
    return await ctx.services.memories.update(ctx.actor, args.memory_id, cmd)
