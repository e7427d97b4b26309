"""Note views and link resolution, done at read time so links always reflect the space as
it is now (a note created later resolves an older dangling link)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from server.notes.documents import Note, NoteRevision
from server.notes.markdown import title_key, wikilinks
from server.notes.schemas import (
    LinkView,
    NoteRef,
    NoteSummary,
    NoteView,
    RevisionSummary,
    RevisionView,
)

LIVE: dict[str, Any] = {"deleted_at": None}


def summary(n: Note) -> NoteSummary:
    return NoteSummary(
        id=str(n.id),
        space_id=str(n.space_id),
        title=n.title,
        aliases=list(n.aliases),
        tags=list(n.tags),
        pinned=n.pinned,
        version=n.version,
        kind=n.kind,
        read_only=n.read_only,
        size=n.size,
        author_id=str(n.author_id),
        updated_by=str(n.updated_by),
        updated_via=n.updated_via,
        created_at=n.created_at,
        updated_at=n.updated_at,
        deleted_at=n.deleted_at,
        document_id=str(n.document_id) if n.document_id else None,
        source_path=n.source_path,
    )


def revision_summary(r: NoteRevision) -> RevisionSummary:
    return RevisionSummary(
        version=r.version,
        title=r.title,
        author_id=str(r.author_id),
        via=r.via,
        created_at=r.created_at,
        size=len(r.body.encode("utf-8")),
    )


def revision_view(r: NoteRevision) -> RevisionView:
    base = revision_summary(r)
    return RevisionView(
        version=base.version,
        title=base.title,
        author_id=base.author_id,
        via=base.via,
        created_at=base.created_at,
        size=base.size,
        body=r.body,
        tags=list(r.tags),
        aliases=list(r.aliases),
        pinned=r.pinned,
    )


async def resolve_titles(space_id: ObjectId, keys: list[str]) -> dict[str, tuple[ObjectId, str]]:
    """title key -> (id, title) of the most recently updated live note with that title or
    alias in the space (the rule for ambiguous titles)."""
    if not keys:
        return {}
    cursor = (
        Note.get_pymongo_collection()
        .find(
            {
                "space_id": space_id,
                **LIVE,
                "$or": [{"title_key": {"$in": keys}}, {"alias_keys": {"$in": keys}}],
            },
            {"title": 1, "title_key": 1, "alias_keys": 1, "updated_at": 1},
        )
        .sort([("updated_at", -1), ("_id", -1)])
    )
    found: dict[str, tuple[ObjectId, str]] = {}
    wanted = set(keys)
    async for raw in cursor:
        for key in [raw["title_key"], *raw.get("alias_keys", [])]:
            if key in wanted and key not in found:
                found[key] = (raw["_id"], raw["title"])
    return found


async def resolve_links(note: Note) -> list[LinkView]:
    """Resolve the body's wikilinks inside the note's own space only: a link never reveals
    a note elsewhere (an id from another space stays unresolved)."""
    links = wikilinks(note.body)
    ids = [ObjectId(link.note_id) for link in links if link.note_id]
    by_id: dict[str, str] = {}
    if ids:
        async for raw in Note.get_pymongo_collection().find(
            {"_id": {"$in": ids}, "space_id": note.space_id, **LIVE}, {"title": 1}
        ):
            by_id[str(raw["_id"])] = raw["title"]
    by_title = await resolve_titles(
        note.space_id, [title_key(link.target) for link in links if not link.note_id]
    )
    out = []
    for link in links:
        if link.note_id:
            title = by_id.get(link.note_id)
            out.append(LinkView(link.target, link.alias, link.note_id if title else None, title))
        else:
            hit = by_title.get(title_key(link.target))
            out.append(
                LinkView(
                    link.target,
                    link.alias,
                    str(hit[0]) if hit else None,
                    hit[1] if hit else None,
                )
            )
    return out


async def backlinks(note: Note, limit: int = 200) -> list[NoteRef]:
    """Live notes of the same space whose links resolve to `note` (by id, or by a title or
    alias for which `note` is the most recently updated match)."""
    names = [note.title_key, *note.alias_keys]
    winners = await resolve_titles(note.space_id, names)
    keys = [f"i:{note.id}"] + [f"t:{k}" for k in names if winners.get(k, (None,))[0] == note.id]
    refs = []
    async for raw in (
        Note.get_pymongo_collection()
        .find(
            {
                "space_id": note.space_id,
                **LIVE,
                "link_keys": {"$in": keys},
                "_id": {"$ne": note.id},
            },
            {"title": 1},
        )
        .sort("updated_at", -1)
        .limit(limit)
    ):
        refs.append(NoteRef(id=str(raw["_id"]), title=raw["title"]))
    return refs


async def full_view(note: Note) -> NoteView:
    s = summary(note)
    return NoteView(
        **{f: getattr(s, f) for f in s.__struct_fields__},
        body=note.body,
        links=await resolve_links(note),
        backlinks=await backlinks(note),
    )
