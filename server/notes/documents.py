"""Notes and their revisions. A note lives in exactly one space (`space_id`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow

NoteKind = Literal["note", "document"]


class Note(Document):
    """`title_key`/`alias_keys` are the normalised names wikilinks resolve by; `link_keys`
    the targets this note links to (`t:<title key>` or `i:<id>`), kept for backlinks.
    `size` is what the note counts against its space's byte quota."""

    space_id: PydanticObjectId
    title: str
    title_key: str
    aliases: list[str] = Field(default_factory=list)
    alias_keys: list[str] = Field(default_factory=list)
    body: str = ""
    tags: list[str] = Field(default_factory=list)  # own_tags + the body's #tags
    own_tags: list[str] = Field(default_factory=list)  # the tags set explicitly
    link_keys: list[str] = Field(default_factory=list)
    pinned: bool = False
    version: int = 1
    size: int = 0
    kind: NoteKind = "note"
    read_only: bool = False
    source_path: str | None = None  # the vault path it was imported from (re-import key)
    document_id: PydanticObjectId | None = None  # the uploaded file of a document note
    author_id: PydanticObjectId
    updated_by: PydanticObjectId
    updated_via: str = "http"  # the actor's channel of the last change: http, agent, voice…
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None
    deleted_by: PydanticObjectId | None = None

    class Settings:
        name = "notes"
        indexes = [
            IndexModel(
                [
                    ("space_id", ASCENDING),
                    ("deleted_at", ASCENDING),
                    ("updated_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="space_recent",
            ),
            IndexModel(
                [
                    ("space_id", ASCENDING),
                    ("tags", ASCENDING),
                    ("deleted_at", ASCENDING),
                    ("updated_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="space_tags_live",
            ),
            IndexModel([("space_id", ASCENDING), ("title_key", ASCENDING)], name="space_title"),
            IndexModel([("space_id", ASCENDING), ("alias_keys", ASCENDING)], name="space_alias"),
            IndexModel([("space_id", ASCENDING), ("link_keys", ASCENDING)], name="space_links"),
            IndexModel([("space_id", ASCENDING), ("source_path", ASCENDING)], name="space_path"),
            IndexModel([("deleted_at", ASCENDING)], name="deleted_at"),
            IndexModel([("document_id", ASCENDING)], name="document"),
            # SecantusDB uses an index only when a filter's fields are a prefix of its keys:
            # these two serve the compare-and-set writes and the trash flips by id.
            IndexModel(
                [("_id", ASCENDING), ("version", ASCENDING), ("deleted_at", ASCENDING)],
                name="id_version_live",
            ),
            IndexModel([("_id", ASCENDING), ("deleted_at", ASCENDING)], name="id_live"),
        ]


class NoteRevision(Document):
    """One kept version of a note: written with every change, removed when it is purged."""

    note_id: PydanticObjectId
    space_id: PydanticObjectId
    version: int
    title: str
    body: str
    tags: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    pinned: bool = False
    author_id: PydanticObjectId
    via: str = "http"  # the channel the change came through (agents write as `agent`)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "note_revisions"
        indexes = [
            IndexModel(
                [("note_id", ASCENDING), ("version", DESCENDING)], unique=True, name="note_version"
            ),
        ]
