"""Wire types for notes (camelCase JSON). The manager re-checks every limit stated here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from server.core.wire import Input, ObjectIdStr, Output

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TagIn = Annotated[str, msgspec.Meta(min_length=1, max_length=65)]
Tags = Annotated[list[TagIn], msgspec.Meta(max_length=50)]
Aliases = Annotated[list[Title], msgspec.Meta(max_length=20)]


class NoteCreate(Input):
    title: Title
    body: str = ""
    tags: Tags = msgspec.field(default_factory=list)
    aliases: Aliases = msgspec.field(default_factory=list)
    pinned: bool = False
    space_id: ObjectIdStr | None = None  # default: the caller's personal space


class NoteUpdate(Input):
    """PATCH: fields left out stay as they are. The base version comes from `If-Match`
    or `baseVersion`; one of them is required."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    aliases: Aliases | msgspec.UnsetType = msgspec.UNSET
    pinned: bool | msgspec.UnsetType = msgspec.UNSET
    base_version: int | msgspec.UnsetType = msgspec.UNSET


class NoteMove(Input):
    space_id: ObjectIdStr
    base_version: int | msgspec.UnsetType = msgspec.UNSET


class RevisionRestore(Input):
    base_version: int | msgspec.UnsetType = msgspec.UNSET


class LinkView(Output):
    target: str
    alias: str | None
    note_id: str | None  # None: unresolved (no readable note in this space has that title)
    title: str | None


class NoteRef(Output):
    id: str
    title: str


class NoteSummary(Output):
    id: str
    space_id: str
    title: str
    aliases: list[str]
    tags: list[str]
    pinned: bool
    version: int
    kind: str
    read_only: bool
    size: int
    author_id: str
    updated_by: str
    updated_via: str  # http, ws, agent, voice: the channel of the last change
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    document_id: str | None = None
    source_path: str | None = None


class NoteView(NoteSummary, kw_only=True):
    body: str
    links: list[LinkView]
    backlinks: list[NoteRef]


class NotePage(Output):
    items: list[NoteSummary]
    next_cursor: str | None


class RevisionSummary(Output):
    version: int
    title: str
    author_id: str
    via: str
    created_at: datetime
    size: int


class RevisionView(RevisionSummary, kw_only=True):
    body: str
    tags: list[str]
    aliases: list[str]
    pinned: bool


class RevisionPage(Output):
    """A page of a note's revisions, newest first (`nextCursor` null on the last)."""

    items: list[RevisionSummary]
    next_cursor: str | None = None
