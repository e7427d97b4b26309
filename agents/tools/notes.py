"""Notes tools over `NotesManager`, run as the user (channel `agent`).

Arguments are flat scalars (langchain-ollama flattens nested arguments): tags are one
comma-separated string, a space is named by `personal`, `family`, `workspace`, a group's
name or a space id. Reads run directly; deleting a note pauses for the user's approval.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pydantic import Field

from agents.tools.registry import REGISTRY, ToolArgs, ToolContext
from server.core.errors import BadRequest, NotFound
from server.notes.schemas import NoteCreate, NoteMove, NoteUpdate

SPACE_HELP = (
    "Which space: 'personal' (default), 'family', 'workspace', the family's or workspace's "
    "name, or a space id"
)
NOTE_ID = Field(..., min_length=24, max_length=24, description="The note's id")


def split_tags(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").replace(" ", ",").split(",") if t.strip()]


async def resolve_space(ctx: ToolContext, ref: str | None) -> str | None:
    """The id of the space the user means; None = their personal space."""
    wanted = (ref or "").strip()
    if not wanted or wanted.lower() == "personal":
        return None
    if ObjectId.is_valid(wanted):
        return wanted
    spaces = await ctx.services.spaces.list_mine(ctx.actor)
    low = wanted.lower()
    matches = [s for s in spaces if s.kind == low and s.kind != "personal"] or [
        s for s in spaces if s.kind != "personal" and s.name.lower() == low
    ]
    if len(matches) == 1:
        return str(matches[0].id)
    names = ", ".join(f"{s.name or s.kind} ({s.kind}, {s.id})" for s in spaces)
    if not matches:
        raise NotFound(f"No space matches {ref!r}. Yours: {names}.", code="SPACE_NOT_FOUND")
    raise BadRequest(f"Which space? Yours: {names}.", code="AMBIGUOUS_SPACE")


class ListArgs(ToolArgs):
    space: str | None = Field(None, description=SPACE_HELP)
    tag: str | None = Field(None, description="Only notes with this tag")
    limit: int = Field(20, ge=1, le=50)


class NoteIdArgs(ToolArgs):
    note_id: str = NOTE_ID


class CreateArgs(ToolArgs):
    title: str = Field(..., min_length=1, max_length=200)
    body: str = Field("", description="Markdown text; [[Title]] links to another note")
    tags: str | None = Field(None, description="Comma-separated tags, e.g. 'work,ideas'")
    space: str | None = Field(None, description=SPACE_HELP)


class UpdateArgs(ToolArgs):
    note_id: str = NOTE_ID
    title: str | None = Field(None, max_length=200, description="New title (omit to keep)")
    body: str | None = Field(None, description="The whole new Markdown body (omit to keep)")
    base_version: int | None = Field(
        None, description="The version you read (from notes_get); a newer one is a conflict"
    )


class AppendArgs(ToolArgs):
    note_id: str = NOTE_ID
    text: str = Field(..., min_length=1, description="Markdown to add at the end")


class TagArgs(ToolArgs):
    note_id: str = NOTE_ID
    add: str | None = Field(None, description="Comma-separated tags to add")
    remove: str | None = Field(None, description="Comma-separated tags to remove")


class MoveArgs(ToolArgs):
    note_id: str = NOTE_ID
    space: str = Field(..., description=SPACE_HELP)


@REGISTRY.tool(
    "notes_list", "The notes of a space, newest change first.", area="notes", args=ListArgs
)
async def notes_list(ctx: ToolContext, args: ListArgs) -> Any:
    space = await resolve_space(ctx, args.space)
    return await ctx.services.notes.list(ctx.actor, space, tag=args.tag, limit=args.limit)


@REGISTRY.tool(
    "notes_get",
    "One note with its text, version, links and backlinks.",
    area="notes",
    args=NoteIdArgs,
)
async def notes_get(ctx: ToolContext, args: NoteIdArgs) -> Any:
    return await ctx.services.notes.get(ctx.actor, args.note_id)


@REGISTRY.tool("notes_create", "Write a new note.", area="notes", args=CreateArgs, mutating=True)
async def notes_create(ctx: ToolContext, args: CreateArgs) -> Any:
    space = await resolve_space(ctx, args.space)
    cmd = NoteCreate(title=args.title, body=args.body, tags=split_tags(args.tags), space_id=space)
    return await ctx.services.notes.create(ctx.actor, cmd)


@REGISTRY.tool(
    "notes_update",
    "Change a note's title or replace its body.",
    area="notes",
    args=UpdateArgs,
    mutating=True,
)
async def notes_update(ctx: ToolContext, args: UpdateArgs) -> Any:
    import msgspec

    cmd = NoteUpdate(
        title=args.title if args.title is not None else msgspec.UNSET,
        body=args.body if args.body is not None else msgspec.UNSET,
        base_version=args.base_version if args.base_version is not None else msgspec.UNSET,
    )
    return await ctx.services.notes.update(ctx.actor, args.note_id, cmd, require_version=False)


@REGISTRY.tool(
    "notes_append", "Add text at the end of a note.", area="notes", args=AppendArgs, mutating=True
)
async def notes_append(ctx: ToolContext, args: AppendArgs) -> Any:
    return await ctx.services.notes.append(ctx.actor, args.note_id, args.text)


@REGISTRY.tool(
    "notes_tag", "Add or remove tags of a note.", area="notes", args=TagArgs, mutating=True
)
async def notes_tag(ctx: ToolContext, args: TagArgs) -> Any:
    return await ctx.services.notes.tag(
        ctx.actor, args.note_id, split_tags(args.add), split_tags(args.remove)
    )


@REGISTRY.tool(
    "notes_move", "Move a note to another space.", area="notes", args=MoveArgs, mutating=True
)
async def notes_move(ctx: ToolContext, args: MoveArgs) -> Any:
    space = await resolve_space(ctx, args.space)
    if space is None:
        space = str((await ctx.services.spaces.personal(ctx.actor)).id)
    return await ctx.services.notes.move(ctx.actor, args.note_id, NoteMove(space_id=space))


@REGISTRY.tool(
    "notes_delete",
    "Move a note to its space's trash (restorable for 30 days).",
    area="notes",
    args=NoteIdArgs,
    mutating=True,
    needs_approval=True,
)
async def notes_delete(ctx: ToolContext, args: NoteIdArgs) -> Any:
    await ctx.services.notes.delete(ctx.actor, args.note_id)
    return {"deleted": args.note_id, "trash": True}
