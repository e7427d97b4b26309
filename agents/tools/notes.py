"""Notes tools over `NotesManager`, run as the user (channel `agent`).

Arguments are flat scalars (langchain-ollama flattens nested arguments): tags are one
comma-separated string, a space is named by `personal`, `family`, `workspace`, a group's
name or a space id. Reads run directly; deleting a note pauses for the user's approval.
"""

from __future__ import annotations

from typing import Annotated, Any

from bson import ObjectId
from msgspec import Meta

from agents.citations import span_matches
from agents.tools.registry import REGISTRY, ToolArgs, ToolContext
from server.core.errors import BadRequest, DomainError, NotFound
from server.core.wire import ObjectIdStr, convert
from server.notes.schemas import NoteCreate, NoteMove, NoteUpdate, Title

SPACE_HELP = (
    "Which space: 'personal' (default), 'family', 'workspace', the family's or workspace's "
    "name, or a space id"
)
SpaceRef = Annotated[str, Meta(max_length=200, description=SPACE_HELP)]
NoteId = Annotated[ObjectIdStr, Meta(description="The note's id")]
TagList = Annotated[str, Meta(max_length=2000)]


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
    space: SpaceRef | None = None
    tag: Annotated[str, Meta(max_length=65, description="Only notes with this tag")] | None = None
    limit: Annotated[int, Meta(ge=1, le=50)] = 20


class NoteIdArgs(ToolArgs):
    note_id: NoteId


class CreateArgs(ToolArgs):
    title: Title
    body: Annotated[str, Meta(description="Markdown text; [[Title]] links to another note")] = ""
    tags: Annotated[TagList, Meta(description="Comma-separated tags, e.g. 'work,ideas'")] | None = (
        None
    )
    space: SpaceRef | None = None


class UpdateArgs(ToolArgs):
    note_id: NoteId
    title: Annotated[Title, Meta(description="New title (omit to keep)")] | None = None
    body: Annotated[str, Meta(description="The whole new Markdown body (omit to keep)")] | None = (
        None
    )
    base_version: (
        Annotated[
            int,
            Meta(description="The version you read (from notes_get); a newer one is a conflict"),
        ]
        | None
    ) = None


class AppendArgs(ToolArgs):
    note_id: NoteId
    text: Annotated[str, Meta(min_length=1, description="Markdown to add at the end")]


class TagArgs(ToolArgs):
    note_id: NoteId
    add: Annotated[TagList, Meta(description="Comma-separated tags to add")] | None = None
    remove: Annotated[TagList, Meta(description="Comma-separated tags to remove")] | None = None


class MoveArgs(ToolArgs):
    note_id: NoteId
    space: SpaceRef


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
    cmd = convert(
        {"title": args.title, "body": args.body, "tags": split_tags(args.tags), "spaceId": space},
        NoteCreate,
    )
    return await ctx.services.notes.create(ctx.actor, cmd)


@REGISTRY.tool(
    "notes_update",
    "Change a note's title or replace its body.",
    area="notes",
    args=UpdateArgs,
    mutating=True,
)
async def notes_update(ctx: ToolContext, args: UpdateArgs) -> Any:
    given = {"title": args.title, "body": args.body, "baseVersion": args.base_version}
    cmd = convert({k: v for k, v in given.items() if v is not None}, NoteUpdate)
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
    cmd = convert({"spaceId": space}, NoteMove)
    return await ctx.services.notes.move(ctx.actor, args.note_id, cmd)


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


class SearchArgs(ToolArgs):
    query: Annotated[str, Meta(min_length=1, max_length=500, description="What to look for")]
    space: (
        Annotated[
            str,
            Meta(max_length=200, description=SPACE_HELP + "; omit to search every space I read"),
        ]
        | None
    ) = None
    limit: Annotated[int, Meta(ge=1, le=20)] = 5


PASSAGE_CHARS = 600  # of each passage shown to the model (the citation spans the chunk)


@REGISTRY.tool(
    "notes_search",
    "Search my notes (hybrid keyword + meaning) for passages about something; each hit has a "
    "source number to cite as [n], the note id, title, heading path and the passage's text.",
    area="notes",
    args=SearchArgs,
)
async def notes_search(ctx: ToolContext, args: SearchArgs) -> Any:
    """Through `SearchManager.search`: only spaces the user can read are ever ranked. Each
    hit is checked against the note body as the user reads it now (`NotesManager.get`): the
    span must still be the indexed chunk, or the hit is left out (a stale index never yields
    a citation at the wrong offsets)."""
    space = None
    if args.space:
        space = await resolve_space(ctx, args.space) or "personal"
    page = await ctx.services.search.search(ctx.actor, args.query, space=space, limit=args.limit)
    bodies: dict[str, str | None] = {}
    hits: list[dict[str, Any]] = []
    for hit in page.hits:
        if hit.note_id not in bodies:
            try:
                bodies[hit.note_id] = (await ctx.services.notes.get(ctx.actor, hit.note_id)).body
            except DomainError:
                bodies[hit.note_id] = None
        body = bodies[hit.note_id]
        if body is None or not span_matches(
            body, hit.title, hit.heading_path, hit.start, hit.end, hit.chunk_id
        ):
            continue
        text = body[hit.start : hit.end]
        entry: dict[str, Any] = {
            "noteId": hit.note_id,
            "chunkId": hit.chunk_id,
            "title": hit.title,
            "headingPath": hit.heading_path,
            "start": hit.start,
            "end": hit.end,
            "text": text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + "…",
        }
        if hit.page is not None:
            entry["page"] = hit.page
        if ctx.sources is not None:
            number = ctx.sources.add(
                note_id=hit.note_id,
                chunk_id=hit.chunk_id,
                title=hit.title,
                heading_path=hit.heading_path,
                start=hit.start,
                end=hit.end,
                page=hit.page,
            )
            entry = {"source": number, **entry}
        hits.append(entry)
    return {"hits": hits, "mode": page.mode, "degraded": page.degraded}
