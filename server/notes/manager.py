"""The notes manager: the only write path for notes, used alike by HTTP routes, agent tools,
the importer and document extraction. A thin facade over composed collaborators: the store
(loading, rights, transactions, quotas), the writer (versioned changes) and the trash purge.
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import DomainError, NotFound, Unprocessable
from server.notes.documents import Note, NoteRevision
from server.notes.schemas import (
    NoteCreate,
    NoteMove,
    NotePage,
    NoteUpdate,
    NoteView,
    RevisionRestore,
    RevisionSummary,
    RevisionView,
)
from server.notes.store import NoteStore, note_not_found, version_conflict
from server.notes.views import full_view, revision_summary, revision_view, summary
from server.notes.writer import Draft, NoteWriter
from server.spaces.manager import SpaceAccess, SpaceManager

MAX_PAGE = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHANGE_RETRIES = 5
PurgeHook = Callable[[list[ObjectId], AsyncClientSession], Awaitable[None]]


class VersionRequired(DomainError):
    status_code = 428
    code = "VERSION_REQUIRED"


def draft_of(note: Note) -> Draft:
    return Draft(note.title, note.body, list(note.own_tags), list(note.aliases), note.pinned)


def _cursor(note: Note) -> str:
    raw = f"{note.updated_at.isoformat()}|{note.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, ObjectId]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, nid = text.partition("|")
        return datetime.fromisoformat(at), ObjectId(nid)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise Unprocessable(
            "The cursor is not valid.", code="INVALID_CURSOR", details=[{"field": "cursor"}]
        ) from exc


class NotesManager:
    def __init__(self, store: NoteStore) -> None:
        self.store = store
        self.spaces: SpaceManager = store.spaces
        self.writer = NoteWriter(store)
        # Called inside the purge transaction with the purged note ids (search drops chunks).
        self.purge_hooks: list[PurgeHook] = []

    # ------------------------------------------------------------------ reads

    async def get(self, actor: Actor, note_id: str) -> NoteView:
        self.store.require_read(actor)
        note, _ = await self.store.load(actor, note_id)
        return await full_view(note)

    async def list(
        self,
        actor: Actor,
        space_id: str | None,
        *,
        tag: str | None = None,
        pinned: bool | None = None,
        trashed: bool = False,
        cursor: str | None = None,
        limit: int = 50,
    ) -> NotePage:
        """Newest change first (`updatedAt`, then id), cursor-paged, optionally by tag."""
        self.store.require_read(actor)
        access = await self.spaces.resolve(actor, space_id)
        limit = max(1, min(limit, MAX_PAGE))
        # Filters only on index prefixes (SecantusDB ignores an index otherwise): the cursor
        # is `updated_at <= at` with ties dropped here, `pinned` is checked here too.
        query: dict[str, Any] = {
            "space_id": access.space_id,
            "deleted_at": {"$gt": EPOCH} if trashed else None,
        }
        if tag:
            query["tags"] = tag.strip().removeprefix("#").lower()
        after: tuple[datetime, ObjectId] | None = None
        if cursor:
            after = _parse_cursor(cursor)
            query["updated_at"] = {"$lte": after[0]}
        raws: builtins.list[dict[str, Any]] = []
        async for raw in (
            Note.get_pymongo_collection()
            .find(query, {"body": 0})
            .sort([("updated_at", -1), ("_id", -1)])
        ):
            if after and raw["updated_at"] == after[0] and raw["_id"] >= after[1]:
                continue
            if pinned is not None and raw.get("pinned", False) != pinned:
                continue
            raws.append(raw)
            if len(raws) > limit:
                break
        notes = [Note.model_validate({"body": "", **r}) for r in raws[:limit]]
        more = len(raws) > limit and notes
        return NotePage(
            items=[summary(n) for n in notes], next_cursor=_cursor(notes[-1]) if more else None
        )

    async def revisions(self, actor: Actor, note_id: str) -> builtins.list[RevisionSummary]:
        self.store.require_read(actor)
        note, _ = await self.store.load(actor, note_id)
        raws = (
            await NoteRevision.get_pymongo_collection()
            .find({"note_id": note.id})
            .sort("version", -1)
            .to_list()
        )
        return [revision_summary(NoteRevision.model_validate(r)) for r in raws]

    async def _revision(self, note: Note, version: int) -> NoteRevision:
        raw = await NoteRevision.get_pymongo_collection().find_one(
            {"note_id": note.id, "version": version}
        )
        if raw is None:
            raise NotFound("No such revision.", code="REVISION_NOT_FOUND")
        return NoteRevision.model_validate(raw)

    async def revision(self, actor: Actor, note_id: str, version: int) -> RevisionView:
        self.store.require_read(actor)
        note, _ = await self.store.load(actor, note_id)
        return revision_view(await self._revision(note, version))

    # ------------------------------------------------------------------ writes

    async def create(
        self, actor: Actor, cmd: NoteCreate, *, space: SpaceAccess | None = None
    ) -> NoteView:
        self.store.require_write(actor)
        access = space or await self.spaces.resolve(actor, cmd.space_id)
        note = await self.writer.create(
            actor, access, Draft(cmd.title, cmd.body, list(cmd.tags), list(cmd.aliases), cmd.pinned)
        )
        return await full_view(note)

    @staticmethod
    def _base(cmd_base: int | msgspec.UnsetType, if_match: int | None) -> int | None:
        if if_match is not None:
            return if_match
        return None if cmd_base is msgspec.UNSET else int(cmd_base)

    async def update(
        self,
        actor: Actor,
        note_id: str,
        cmd: NoteUpdate,
        *,
        if_match: int | None = None,
        require_version: bool = True,
    ) -> NoteView:
        """A PATCH based on a version (`If-Match` or `baseVersion`; 428 without one over
        HTTP). Agents pass `require_version=False`: they change the version they just read."""
        self.store.require_write(actor)
        base = self._base(cmd.base_version, if_match)
        if base is None and require_version:
            raise VersionRequired(
                "Send the version your change is based on (If-Match or baseVersion).",
                details=[{"field": "baseVersion"}],
            )
        note, access = await self.store.load_for_write(actor, note_id)
        draft = draft_of(note)
        for attr in ("title", "body", "aliases", "pinned"):
            value = getattr(cmd, attr)
            if value is not msgspec.UNSET:
                setattr(draft, attr, value)
        if cmd.tags is not msgspec.UNSET:
            draft.own_tags = list(cmd.tags)
        updated = await self.writer.change(
            actor, note, access, draft, note.version if base is None else base
        )
        return await full_view(updated)

    async def _retry_change(
        self, actor: Actor, note_id: str, edit: Callable[[Draft], None]
    ) -> NoteView:
        """A change that composes with concurrent ones (append, tag): re-read and re-apply
        on a version conflict, a bounded number of times."""
        self.store.require_write(actor)
        for _ in range(CHANGE_RETRIES):
            note, access = await self.store.load_for_write(actor, note_id)
            draft = draft_of(note)
            edit(draft)
            try:
                updated = await self.writer.change(actor, note, access, draft, note.version)
            except DomainError as exc:
                if exc.code == "VERSION_CONFLICT":
                    continue
                raise
            return await full_view(updated)
        raise version_conflict(note.version)

    async def append(self, actor: Actor, note_id: str, text: str) -> NoteView:
        def edit(d: Draft) -> None:
            d.body = f"{d.body.rstrip()}\n\n{text.strip()}\n" if d.body.strip() else text

        return await self._retry_change(actor, note_id, edit)

    async def tag(
        self, actor: Actor, note_id: str, add: builtins.list[str], remove: builtins.list[str]
    ) -> NoteView:
        drop = {t.strip().removeprefix("#").lower() for t in remove}

        def edit(d: Draft) -> None:
            d.own_tags = [t for t in [*d.own_tags, *add] if t.removeprefix("#").lower() not in drop]

        return await self._retry_change(actor, note_id, edit)

    async def delete(self, actor: Actor, note_id: str, *, if_match: int | None = None) -> None:
        """Into the space's trash (restorable until purged)."""
        self.store.require_write(actor)
        note, access = await self.store.load_for_write(actor, note_id)
        if if_match is not None and if_match != note.version:
            raise version_conflict(note.version)
        await self.writer.trash(actor, note, access)

    async def restore(self, actor: Actor, note_id: str) -> NoteView:
        self.store.require_write(actor)
        note, access = await self.store.load(actor, note_id)
        return await full_view(await self.writer.untrash(actor, note, access))

    async def restore_revision(
        self,
        actor: Actor,
        note_id: str,
        version: int,
        cmd: RevisionRestore,
        *,
        if_match: int | None = None,
    ) -> NoteView:
        """A new version with an old revision's content (history is never rewritten)."""
        self.store.require_write(actor)
        note, access = await self.store.load_for_write(actor, note_id)
        rev = await self._revision(note, version)
        base = self._base(cmd.base_version, if_match)
        draft = Draft(rev.title, rev.body, list(note.own_tags), list(rev.aliases), rev.pinned)
        updated = await self.writer.change(
            actor, note, access, draft, note.version if base is None else base
        )
        return await full_view(updated)

    async def move(
        self, actor: Actor, note_id: str, cmd: NoteMove, *, if_match: int | None = None
    ) -> NoteView:
        self.store.require_write(actor)
        note, source = await self.store.load_for_write(actor, note_id)
        target = await self.spaces.access(actor, cmd.space_id)
        base = self._base(cmd.base_version, if_match)
        moved = await self.writer.move(
            actor, note, source, target, note.version if base is None else base
        )
        return await full_view(moved)

    # ------------------------------------------------------------------ purge

    async def purge_trash(self, *, batch: int = 200) -> int:
        """Remove notes trashed longer than the retention, with their revisions (the
        worker's cron job). Each note goes in its own short transaction."""
        cutoff = self.store.now() - timedelta(days=self.store.config.trash_retention_days)
        raws = (
            await Note.get_pymongo_collection()
            .find({"deleted_at": {"$lt": cutoff}}, {"space_id": 1, "size": 1})
            .limit(batch)
            .to_list()
        )
        purged = 0
        for raw in raws:

            async def work(session: AsyncClientSession, _: Any, raw: Any = raw) -> bool:
                gone = await Note.get_pymongo_collection().delete_one(
                    {"_id": raw["_id"], "deleted_at": {"$lt": cutoff}},
                    session=session,
                )
                if gone.deleted_count != 1:
                    return False
                await NoteRevision.get_pymongo_collection().delete_many(
                    {"note_id": raw["_id"]}, session=session
                )
                await self.store.release_quota(raw["space_id"], 1, raw.get("size", 0), session)
                for hook in self.purge_hooks:
                    await hook([raw["_id"]], session)
                return True

            purged += int(await self.store.commit(work))
        return purged


__all__ = ["NotesManager", "note_not_found"]
