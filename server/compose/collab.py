"""How live editing joins the app (part of the composition root): the notes domain behind the
`NoteGate` port, REST edits applied to live documents, the rooms of the api process."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from realtime.collab.gate import NoteGrant
from realtime.collab.live_edits import LiveEdits, materialising
from realtime.collab.rooms import Rooms
from realtime.collab.store import CollabStore
from realtime.hub import RealtimeHub
from server.compose.config import collab_config
from server.compose.services import Services
from server.core.actor import Actor
from server.core.errors import DomainError
from server.notes.documents import Note
from server.notes.manager import CHANGE_RETRIES, NotesManager, draft_of
from server.settings import Settings
from server.spaces.manager import space_channel

log = logging.getLogger("server.collab")


class NotesGate:
    """The notes manager's answers, in the shape live editing asks for."""

    def __init__(self, notes: NotesManager) -> None:
        self.notes = notes

    async def grant(self, actor: Actor, note_id: str) -> NoteGrant | None:
        store = self.notes.store
        try:
            store.require_read(actor)
            note, access = await store.load(actor, note_id)
        except DomainError:
            return None
        if note.deleted_at is not None:
            return None
        can_write = access.can_write and not note.read_only and actor.allows_scope("notes:write")
        return NoteGrant(can_write, space_channel(access.space), note.title, note.body)

    async def materialise(self, actor: Actor, note_id: str, title: str, body: str) -> None:
        """The live text as the note's next version (retried on a concurrent change)."""
        token = materialising.set(True)
        try:
            for _ in range(CHANGE_RETRIES):
                try:
                    note, access = await self.notes.store.load_for_write(actor, note_id)
                    draft = draft_of(note)
                    if title.strip():
                        draft.title = title
                    draft.body = body
                    await self.notes.writer.change(actor, note, access, draft, note.version)
                    return
                except DomainError as exc:
                    if exc.code == "VERSION_CONFLICT":
                        continue
                    log.warning(
                        "live text not materialised", extra={"note": note_id, "code": exc.code}
                    )
                    return
        finally:
            materialising.reset(token)


def attach_live_edits(notes: NotesManager, redis: Redis) -> None:
    """REST (and agent, import, restore) edits of a note with a live document go into it."""
    edits = LiveEdits(CollabStore(), redis)

    async def on_change(before: Note, after: Note) -> None:
        assert after.id is not None
        await edits.note_changed(after.id, (before.title, before.body), (after.title, after.body))

    notes.writer.change_hooks.append(on_change)


def open_rooms(services: Services, hub: RealtimeHub, settings: Settings) -> Rooms:
    return Rooms(
        store=CollabStore(),
        gate=NotesGate(services.notes),
        subscriber=hub.subscriber,
        redis=hub.redis,
        config=collab_config(settings),
    )
