"""The shared ground of the notes collaborators: loading a note with the actor's rights,
transactions whose events go out only after the commit, and the quota counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.db import Tx, _is_transient, run_in_transaction
from server.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from server.notes.documents import Note
from server.notes.rules import NotesConfig, PayloadTooLarge
from server.spaces.documents import Space
from server.spaces.manager import SpaceAccess, SpaceManager, space_channel

T = TypeVar("T")
TX_ATTEMPTS = 30


@dataclass(slots=True)
class Pending:
    """Events a transaction wants published; sent only after it committed."""

    events: list[tuple[str, str, Any]]

    def publish(self, space: Space, type_: str, data: Any) -> None:
        self.events.append((space_channel(space), type_, data))


def changed_note_ids(events: list[tuple[str, str, Any]]) -> list[str]:
    """The notes a transaction's `note.*` events are about."""
    ids: list[str] = []
    for _, type_, data in events:
        if not type_.startswith("note."):
            continue
        note = getattr(data, "note", None)
        note_id = note.id if note is not None else getattr(data, "note_id", None)
        if isinstance(note_id, str) and note_id not in ids:
            ids.append(note_id)
    return ids


def note_not_found() -> NotFound:
    return NotFound("No such note.", code="NOTE_NOT_FOUND")


def oid(value: Any) -> ObjectId | None:
    if isinstance(value, ObjectId):
        return value
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else None


class NoteStore:
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        bus: EventBus,
        spaces: SpaceManager,
        config: NotesConfig,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.mongo = mongo
        self.bus = bus
        self.spaces = spaces
        self.config = config
        self.now = now
        # Called after a commit with the ids of the notes it changed (search re-indexes).
        self.change_hooks: list[Callable[[list[str]], Awaitable[object]]] = []

    # ------------------------------------------------------------------ scopes

    @staticmethod
    def require_read(actor: Actor) -> None:
        require_scope(actor, "notes:read")

    @staticmethod
    def require_write(actor: Actor) -> None:
        require_scope(actor, "notes:write")

    # ------------------------------------------------------------------ transactions

    async def commit(self, work: Callable[[AsyncClientSession, Pending], Awaitable[T]]) -> T:
        """Run `work` in one transaction (retried on conflicts); its events are queued on the
        `Tx` and go out only once that attempt committed."""

        async def attempt(tx: Tx) -> T:
            pending = Pending([])
            result = await work(tx.session, pending)
            for channel, type_, data in pending.events:
                tx.publish(channel, type_, data)
            changed = changed_note_ids(pending.events)
            for hook in self.change_hooks if changed else ():
                tx.after_commit(partial(hook, changed))
            return result

        try:
            return await run_in_transaction(
                self.mongo, attempt, publisher=self.bus, attempts=TX_ATTEMPTS
            )
        except PyMongoError as exc:
            if not _is_transient(exc):
                raise
            # Still conflicting (or the database unreachable) after every retry: a
            # retryable 503, never a 500; the transaction left nothing behind.
            raise ServiceUnavailable(
                "Too many concurrent changes in this space right now; try again shortly.",
                code="NOTES_BUSY",
                details=[{"retryAfter": 1}],
                headers={"Retry-After": "1"},
            ) from exc

    # ------------------------------------------------------------------ loading

    async def raw_note(self, note_id: Any) -> Note | None:
        nid = oid(note_id)
        if nid is None:
            return None
        raw = await Note.get_pymongo_collection().find_one({"_id": nid})
        return Note.model_validate(raw) if raw else None

    async def load(self, actor: Actor, note_id: Any) -> tuple[Note, SpaceAccess]:
        """The note and the actor's rights in its space; 404 unless they may read it."""
        note = await self.raw_note(note_id)
        if note is None:
            raise note_not_found()
        space = await self.spaces.identity(note.space_id)
        access = await self.spaces.access_to(actor, space) if space is not None else None
        if access is None:
            raise note_not_found()
        return note, access

    async def load_for_write(self, actor: Actor, note_id: Any) -> tuple[Note, SpaceAccess]:
        note, access = await self.load(actor, note_id)
        access.require_write()
        if note.deleted_at is not None:
            raise Conflict("The note is in the trash; restore it first.", code="NOTE_IN_TRASH")
        return note, access

    # ------------------------------------------------------------------ quotas

    async def take_quota(
        self, space_id: ObjectId, notes: int, size: int, session: AsyncClientSession
    ) -> None:
        """Add to the space's counters and refuse (aborting the transaction) if that passes
        a quota. By `_id` alone: SecantusDB would scan for a filter with the limits in it;
        concurrent writers still serialise on the space document (a write conflict)."""
        space = await Space.get_pymongo_collection().find_one_and_update(
            {"_id": space_id},
            {"$inc": {"note_count": notes, "bytes_used": size}},
            projection={"note_count": 1, "bytes_used": 1},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if space is None:
            raise NotFound("No such space.", code="SPACE_NOT_FOUND")
        if notes > 0 and space["note_count"] > self.config.max_notes_per_space:
            raise Unprocessable(
                f"This space is full: at most {self.config.max_notes_per_space} notes.",
                code="SPACE_NOTE_QUOTA",
                details=[{"limit": self.config.max_notes_per_space}],
            )
        if size > 0 and space["bytes_used"] > self.config.max_bytes_per_space:
            raise PayloadTooLarge(
                f"This space's storage quota ({self.config.max_bytes_per_space} bytes) is used up.",
                code="SPACE_STORAGE_QUOTA",
                details=[{"limit": self.config.max_bytes_per_space}],
            )

    @staticmethod
    async def release_quota(
        space_id: ObjectId, notes: int, size: int, session: AsyncClientSession
    ) -> None:
        await Space.get_pymongo_collection().update_one(
            {"_id": space_id},
            {"$inc": {"note_count": -notes, "bytes_used": -size}},
            session=session,
        )


def version_conflict(current: int) -> Conflict:
    return Conflict(
        "The note changed since you read it; reload and apply your change again.",
        code="VERSION_CONFLICT",
        details=[{"currentVersion": current}],
    )


def note_size(title: str, body: str) -> int:
    return len(title.encode("utf-8")) + len(body.encode("utf-8"))
