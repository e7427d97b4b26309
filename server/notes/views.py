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


# SecantusDB's planner uses an index only when every field of a filter is in that index,
# and never for `$or`, `$ne` or `null` next to `$in`. So these lookups filter by the space
# and one indexed key only, and drop trashed notes (and the note itself) in Python.


async def _named(space_id: ObjectId, keys: list[str]) -> list[dict[str, Any]]:
    """Notes of the space with one of `keys` as title or alias (two index lookups)."""
    found: dict[ObjectId, dict[str, Any]] = {}
    projection = {"title": 1, "title_key": 1, "alias_keys": 1, "updated_at": 1, "deleted_at": 1}
    collection = Note.get_pymongo_collection()
    for field in ("title_key", "alias_keys"):
        async for raw in collection.find({"space_id": space_id, field: {"$in": keys}}, projection):
            found[raw["_id"]] = raw
    return [raw for raw in found.values() if raw.get("deleted_at") is None]


async def resolve_titles(space_id: ObjectId, keys: list[str]) -> dict[str, tuple[ObjectId, str]]:
    """title key -> (id, title) of the most recently updated live note with that title or
    alias in the space (the rule for ambiguous titles)."""
    if not keys:
        return {}
    found: dict[str, tuple[ObjectId, str]] = {}
    wanted = set(keys)
    hits = sorted(await _named(space_id, keys), key=lambda r: (r["updated_at"], r["_id"]))
    for raw in reversed(hits):
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
            {"_id": {"$in": ids}}, {"title": 1, "space_id": 1, "deleted_at": 1}
        ):
            if raw["space_id"] == note.space_id and raw.get("deleted_at") is None:
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
    alias for which `note` is the most recently updated match). One index lookup; the
    title winners are looked up only when some note links by one of this note's names."""
    names = [note.title_key, *note.alias_keys]
    by_id = f"i:{note.id}"
    by_name = {f"t:{k}" for k in names}
    candidates = [
        raw
        async for raw in Note.get_pymongo_collection().find(
            {"space_id": note.space_id, "link_keys": {"$in": [by_id, *by_name]}},
            {"title": 1, "link_keys": 1, "updated_at": 1, "deleted_at": 1},
        )
        if raw["_id"] != note.id and raw.get("deleted_at") is None
    ]
    if any(by_name & set(raw["link_keys"]) for raw in candidates):
        winners = await resolve_titles(note.space_id, names)
        keys = {by_id} | {f"t:{k}" for k in names if winners.get(k, (None,))[0] == note.id}
        candidates = [raw for raw in candidates if keys & set(raw["link_keys"])]
    candidates.sort(key=lambda r: (r["updated_at"], r["_id"]), reverse=True)
    return [NoteRef(id=str(raw["_id"]), title=raw["title"]) for raw in candidates[:limit]]


async def full_view(note: Note) -> NoteView:
    s = summary(note)
    return NoteView(
        **{f: getattr(s, f) for f in s.__struct_fields__},
        body=note.body,
        links=await resolve_links(note),
        backlinks=await backlinks(note),
    )
