"""Events of the notes context, published on the space's channel (`user:`, `family:`,
`workspace:`) after the write committed."""

from __future__ import annotations

from datetime import datetime

from server.core.wire import Output
from server.notes.schemas import NoteSummary


class NoteCreated(Output):
    note: NoteSummary
    body: str | None  # None when the body is above NOTES_EVENT_BODY_MAX_BYTES: fetch it


class NoteUpdated(Output):
    note: NoteSummary
    changed: list[str]  # wire names: title, body, tags, aliases, pinned, spaceId
    body: str | None  # set only when the body changed and is below the size bound


class NoteDeleted(Output):
    note_id: str
    space_id: str
    version: int
    deleted_by: str
    purge_after: datetime | None  # None: purged at once, or moved away (see moved_to)
    moved_to: str | None = None


class NoteRestored(Output):
    note: NoteSummary


EVENT_TYPES: dict[str, type] = {
    "note.created": NoteCreated,
    "note.updated": NoteUpdated,
    "note.deleted": NoteDeleted,
    "note.restored": NoteRestored,
}
