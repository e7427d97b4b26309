"""HTTP routes for spaces and notes: thin, every rule lives in the managers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import HeaderParameter, Parameter

from server.core.actor import Actor
from server.core.errors import Unprocessable
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice
from server.core.text import ascii_digits
from server.notes.manager import NotesManager
from server.notes.schemas import (
    NoteCreate,
    NoteMove,
    NotePage,
    NoteUpdate,
    NoteView,
    RevisionPage,
    RevisionRestore,
    RevisionView,
)
from server.spaces.manager import SpaceManager
from server.spaces.schemas import SpacePage, SpaceView


def if_match_version(value: str | None) -> int | None:
    """`If-Match: "3"` (or `W/"3"`, or `3`) -> 3; the ETag of a note is its version."""
    if value is None or not value.strip():
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not ascii_digits(text):
        raise Unprocessable(
            'If-Match must be the note\'s version as an ETag, e.g. "3".',
            code="INVALID_IF_MATCH",
            details=[{"header": "If-Match"}],
        )
    return int(text)


def with_etag(view: NoteView, status: int = 200) -> Response[NoteView]:
    return Response(view, status_code=status, headers={"ETag": f'"{view.version}"'})


IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match", required=False, description="The version a change is based on"
    ),
]


class SpaceController(Controller):
    path = "/api/v1/spaces"
    tags = ["notes"]

    @get("/", summary="The spaces I can read (personal first)")
    async def list_spaces(
        self,
        actor: Actor,
        spaces: SpaceManager,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SpacePage:
        items, next_cursor = page_slice(await spaces.list_mine(actor), limit=limit, cursor=cursor)
        return SpacePage(items=items, next_cursor=next_cursor)

    @get("/{space_id:str}", summary="One space and my rights in it")
    async def get_space(self, actor: Actor, spaces: SpaceManager, space_id: str) -> SpaceView:
        return await spaces.get(actor, space_id)

    @get("/{space_id:str}/notes", summary="Notes of a space, newest change first")
    async def list_notes(
        self,
        actor: Actor,
        notes: NotesManager,
        space_id: str,
        tag: str | None = None,
        pinned: bool | None = None,
        cursor: str | None = None,
        limit: int = Parameter(default=50, ge=1, le=100),
    ) -> NotePage:
        return await notes.list(actor, space_id, tag=tag, pinned=pinned, cursor=cursor, limit=limit)

    @get("/{space_id:str}/trash", summary="Notes in a space's trash")
    async def list_trash(
        self,
        actor: Actor,
        notes: NotesManager,
        space_id: str,
        cursor: str | None = None,
        limit: int = Parameter(default=50, ge=1, le=100),
    ) -> NotePage:
        return await notes.list(actor, space_id, trashed=True, cursor=cursor, limit=limit)


class NoteController(Controller):
    path = "/api/v1/notes"
    tags = ["notes"]

    @post("/", summary="Create a note (in my personal space unless spaceId is given)")
    async def create_note(
        self, data: NoteCreate, actor: Actor, notes: NotesManager
    ) -> Response[NoteView]:
        return with_etag(await notes.create(actor, data), 201)

    @get("/{note_id:str}", summary="A note with its resolved links and backlinks")
    async def get_note(self, actor: Actor, notes: NotesManager, note_id: str) -> Response[NoteView]:
        return with_etag(await notes.get(actor, note_id))

    @patch("/{note_id:str}", summary="Change a note (If-Match or baseVersion required)")
    async def update_note(
        self,
        data: NoteUpdate,
        actor: Actor,
        notes: NotesManager,
        note_id: str,
        if_match: IfMatch = None,
    ) -> Response[NoteView]:
        view = await notes.update(actor, note_id, data, if_match=if_match_version(if_match))
        return with_etag(view)

    @delete("/{note_id:str}", summary="Move a note to the trash", status_code=204)
    async def delete_note(
        self, actor: Actor, notes: NotesManager, note_id: str, if_match: IfMatch = None
    ) -> None:
        await notes.delete(actor, note_id, if_match=if_match_version(if_match))

    @post("/{note_id:str}/restore", summary="Restore a note from the trash", status_code=200)
    async def restore_note(
        self, actor: Actor, notes: NotesManager, note_id: str
    ) -> Response[NoteView]:
        return with_etag(await notes.restore(actor, note_id))

    @post("/{note_id:str}/move", summary="Move a note to another space", status_code=200)
    async def move_note(
        self,
        data: NoteMove,
        actor: Actor,
        notes: NotesManager,
        note_id: str,
        if_match: IfMatch = None,
    ) -> Response[NoteView]:
        return with_etag(
            await notes.move(actor, note_id, data, if_match=if_match_version(if_match))
        )

    @get("/{note_id:str}/revisions", summary="A note's revisions, newest first")
    async def list_revisions(
        self,
        actor: Actor,
        notes: NotesManager,
        note_id: str,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> RevisionPage:
        items, next_cursor = page_slice(
            await notes.revisions(actor, note_id),
            limit=limit,
            cursor=cursor,
            key=lambda r: str(r.version),
        )
        return RevisionPage(items=items, next_cursor=next_cursor)

    @get("/{note_id:str}/revisions/{version:int}", summary="One revision")
    async def get_revision(
        self, actor: Actor, notes: NotesManager, note_id: str, version: int
    ) -> RevisionView:
        return await notes.revision(actor, note_id, version)

    @post(
        "/{note_id:str}/revisions/{version:int}/restore",
        summary="Make an old revision the next version",
        status_code=200,
    )
    async def restore_revision(
        self,
        actor: Actor,
        notes: NotesManager,
        note_id: str,
        version: int,
        if_match: IfMatch = None,
        data: RevisionRestore | None = None,
    ) -> Response[NoteView]:
        view = await notes.restore_revision(
            actor, note_id, version, data or RevisionRestore(), if_match=if_match_version(if_match)
        )
        return with_etag(view)


ROUTE_HANDLERS: list[Any] = [SpaceController, NoteController]
