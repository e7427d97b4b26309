"""Note writes: create, change (with optimistic concurrency), trash, restore, move.

Every write is one transaction: the note, its new revision and the space's quota counters
change together, and the `note.*` event is published only after the commit. A change names
the version it was based on; a compare-and-set on `version` makes a stale write a 409
`VERSION_CONFLICT` (two writers with the same base: exactly one wins).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import Conflict, Forbidden
from server.notes.documents import Note, NoteKind, NoteRevision
from server.notes.events import NoteCreated, NoteDeleted, NoteRestored, NoteUpdated
from server.notes.markdown import link_keys, title_key
from server.notes.rules import (
    all_tags,
    check_body,
    clean_aliases,
    clean_tags,
    clean_title,
)
from server.notes.store import (
    NoteStore,
    Pending,
    note_not_found,
    note_size,
    version_conflict,
)
from server.notes.views import summary
from server.spaces.manager import SpaceAccess

# Wire names of the fields a change may touch (as listed in `note.updated`'s `changed`).
FIELDS = {"title": "title", "body": "body", "own_tags": "tags", "aliases": "aliases"}
FIELDS["pinned"] = "pinned"

# Called after a change committed, with the note before and after (live editing applies
# REST edits to the note's live document); a hook that raises is logged, never undoes it.
ChangeHook = Callable[[Note, Note], Awaitable[object]]
log = logging.getLogger("server.notes")


@dataclass(slots=True)
class Draft:
    """The editable state of a note; `apply` turns it into the stored fields."""

    title: str
    body: str
    own_tags: list[str]
    aliases: list[str]
    pinned: bool
    extra: dict[str, Any] = field(default_factory=dict)


def revision_of(note: Note) -> NoteRevision:
    return NoteRevision(
        note_id=note.id,
        space_id=note.space_id,
        version=note.version,
        title=note.title,
        body=note.body,
        tags=list(note.tags),
        aliases=list(note.aliases),
        pinned=note.pinned,
        author_id=note.updated_by,
        via=note.updated_via,
        created_at=note.updated_at,
    )


class NoteWriter:
    def __init__(self, store: NoteStore) -> None:
        self.store = store
        self.config = store.config
        self.change_hooks: list[ChangeHook] = []

    # ------------------------------------------------------------------ helpers

    def stored_fields(self, draft: Draft) -> dict[str, Any]:
        """Validate a draft (every limit, whatever the caller) and derive the stored fields."""
        title = clean_title(draft.title, self.config)
        check_body(draft.body, self.config)
        own = clean_tags(draft.own_tags, self.config)
        aliases = clean_aliases(draft.aliases, self.config)
        return {
            "title": title,
            "title_key": title_key(title),
            "body": draft.body,
            "own_tags": own,
            "tags": all_tags(own, draft.body, self.config),
            "aliases": aliases,
            "alias_keys": [title_key(a) for a in aliases],
            "link_keys": link_keys(draft.body),
            "pinned": draft.pinned,
            "size": note_size(title, draft.body),
            **draft.extra,
        }

    def _event_body(self, body: str) -> str | None:
        return body if len(body.encode("utf-8")) <= self.config.event_body_max_bytes else None

    # ------------------------------------------------------------------ create

    async def create(
        self,
        actor: Actor,
        access: SpaceAccess,
        draft: Draft,
        *,
        kind: NoteKind = "note",
        read_only: bool = False,
        session_work: Callable[[Note, AsyncClientSession, Pending], Awaitable[None]] | None = None,
    ) -> Note:
        self.store.require_write(actor)
        access.require_write()
        values = self.stored_fields(draft)
        now = self.store.now()
        uid = PydanticObjectId(actor.user_id)
        note = Note(
            space_id=access.space_id,
            kind=kind,
            read_only=read_only,
            author_id=uid,
            updated_by=uid,
            updated_via=actor.channel,
            created_at=now,
            updated_at=now,
            **values,
        )

        async def work(session: AsyncClientSession, pending: Pending) -> Note:
            note.id = None
            await note.insert(session=session)
            await revision_of(note).insert(session=session)
            # The space document is the one every writer of the space touches: taken last,
            # so concurrent creates conflict on it for the shortest time.
            await self.store.take_quota(access.space_id, 1, note.size, session)
            if session_work is not None:
                await session_work(note, session, pending)
            pending.publish(
                access.space,
                "note.created",
                NoteCreated(summary(note), self._event_body(note.body)),
            )
            return note

        return await self.store.commit(work)

    # ------------------------------------------------------------------ change

    async def change(
        self,
        actor: Actor,
        note: Note,
        access: SpaceAccess,
        draft: Draft,
        base_version: int,
        *,
        allow_read_only: bool = False,
    ) -> Note:
        """Write `draft` as the next version if the note is still at `base_version`."""
        values = self.stored_fields(draft)
        changed = [wire for attr, wire in FIELDS.items() if values[attr] != getattr(note, attr)]
        if note.read_only and not allow_read_only and {"title", "body"} & set(changed):
            raise Conflict(
                "A document note is read-only: its text comes from the uploaded file.",
                code="NOTE_READ_ONLY",
            )
        if base_version != note.version:
            raise version_conflict(note.version)
        if not changed:
            return note
        values.update(
            updated_at=self.store.now(), updated_by=actor.user_id, updated_via=actor.channel
        )
        delta = values["size"] - note.size

        async def work(session: AsyncClientSession, pending: Pending) -> Note:
            raw = await Note.get_pymongo_collection().find_one_and_update(
                {"_id": note.id, "version": base_version, "deleted_at": None},
                {"$set": values, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if raw is None:
                current = await Note.get_pymongo_collection().find_one(
                    {"_id": note.id}, {"version": 1, "deleted_at": 1}, session=session
                )
                if current is None:
                    raise note_not_found()
                if current.get("deleted_at") is not None:
                    raise Conflict("The note is in the trash.", code="NOTE_IN_TRASH")
                raise version_conflict(int(current["version"]))
            if delta > 0:
                await self.store.take_quota(access.space_id, 0, delta, session)
            elif delta < 0:
                await self.store.release_quota(access.space_id, 0, -delta, session)
            updated = Note.model_validate(raw)
            await revision_of(updated).insert(session=session)
            body = self._event_body(updated.body) if "body" in changed else None
            pending.publish(
                access.space, "note.updated", NoteUpdated(summary(updated), changed, body)
            )
            return updated

        updated = await self.store.commit(work)
        for hook in self.change_hooks:
            try:
                await hook(note, updated)
            except Exception:
                log.exception("note change hook failed", extra={"note": str(note.id)})
        return updated

    # ------------------------------------------------------------------ trash

    async def trash(self, actor: Actor, note: Note, access: SpaceAccess) -> Note:
        if not access.may_delete(note.author_id):
            raise Forbidden(
                "Only the note's author or an admin of this space may delete it.",
                code="NOTE_DELETE_FORBIDDEN",
            )
        now = self.store.now()
        purge_after = now + timedelta(days=self.config.trash_retention_days)

        async def work(session: AsyncClientSession, pending: Pending) -> Note:
            raw = await Note.get_pymongo_collection().find_one_and_update(
                {"_id": note.id, "deleted_at": None},
                {"$set": {"deleted_at": now, "deleted_by": actor.user_id}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if raw is None:
                raise Conflict("The note is already in the trash.", code="NOTE_IN_TRASH")
            gone = Note.model_validate(raw)
            pending.publish(
                access.space,
                "note.deleted",
                NoteDeleted(
                    str(gone.id), str(gone.space_id), gone.version, str(actor.user_id), purge_after
                ),
            )
            return gone

        return await self.store.commit(work)

    async def untrash(self, actor: Actor, note: Note, access: SpaceAccess) -> Note:
        if note.deleted_at is None:
            raise Conflict("The note is not in the trash.", code="NOTE_NOT_IN_TRASH")
        if not (access.can_write and access.may_delete(note.author_id)):
            raise Forbidden(
                "Only whoever could delete the note may restore it.",
                code="NOTE_RESTORE_FORBIDDEN",
            )

        async def work(session: AsyncClientSession, pending: Pending) -> Note:
            raw = await Note.get_pymongo_collection().find_one_and_update(
                {"_id": note.id, "deleted_at": note.deleted_at},
                {"$set": {"deleted_at": None, "deleted_by": None, "updated_at": self.store.now()}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if raw is None:
                raise Conflict("The note is not in the trash.", code="NOTE_NOT_IN_TRASH")
            back = Note.model_validate(raw)
            pending.publish(access.space, "note.restored", NoteRestored(summary(back)))
            return back

        return await self.store.commit(work)

    # ------------------------------------------------------------------ move

    async def move(
        self,
        actor: Actor,
        note: Note,
        source: SpaceAccess,
        target: SpaceAccess,
        base_version: int,
    ) -> Note:
        """Write on both spaces, and the right to delete the note where it is (moving it
        away removes it from its space's readers)."""
        target.require_write()
        if not source.may_delete(note.author_id):
            raise Forbidden(
                "Moving a note away needs the right to delete it in its space.",
                code="NOTE_DELETE_FORBIDDEN",
            )
        if base_version != note.version:
            raise version_conflict(note.version)
        if target.space_id == source.space_id:
            return note
        now = self.store.now()

        async def work(session: AsyncClientSession, pending: Pending) -> Note:
            await self.store.take_quota(target.space_id, 1, note.size, session)
            raw = await Note.get_pymongo_collection().find_one_and_update(
                {"_id": note.id, "version": base_version, "deleted_at": None},
                {
                    "$set": {
                        "space_id": target.space_id,
                        "updated_at": now,
                        "updated_by": actor.user_id,
                        "updated_via": actor.channel,
                    },
                    "$inc": {"version": 1},
                },
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if raw is None:
                raise version_conflict(base_version + 1)
            await self.store.release_quota(source.space_id, 1, note.size, session)
            await NoteRevision.get_pymongo_collection().update_many(
                {"note_id": note.id}, {"$set": {"space_id": target.space_id}}, session=session
            )
            moved = Note.model_validate(raw)
            await revision_of(moved).insert(session=session)
            pending.publish(
                source.space,
                "note.deleted",
                NoteDeleted(
                    str(moved.id),
                    str(source.space_id),
                    moved.version,
                    str(actor.user_id),
                    None,
                    str(target.space_id),
                ),
            )
            pending.publish(
                target.space,
                "note.created",
                NoteCreated(summary(moved), self._event_body(moved.body)),
            )
            return moved

        return await self.store.commit(work)
