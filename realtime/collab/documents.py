"""Where a note's Yjs document lives in MongoDB: an append-only update log and a snapshot.

`collab_updates` holds every accepted update (one document each, in arrival order by `_id`);
`collab_snapshots` (one per note, `_id` = the note id) holds the merged state of the updates
that compaction folded into it, with a `version` that compaction compare-and-sets, so two
processes compacting at once can never drop each other's updates.
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class CollabUpdate(Document):
    note_id: PydanticObjectId
    data: bytes  # one Yjs update (v1 encoding)
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "collab_updates"
        indexes = [IndexModel([("note_id", ASCENDING), ("_id", ASCENDING)], name="note_log")]


class CollabSnapshot(Document):
    state: bytes
    version: int = 0
    updates: int = 0  # how many log entries were folded in, over its life
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "collab_snapshots"


COLLAB_DOCUMENT_MODELS = [CollabUpdate, CollabSnapshot]
