"""What live editing needs from the notes domain, as a typed port (realtime never imports a
domain: the composition root hands over an implementation, `server/notes/collab_gate.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.core.actor import Actor


@dataclass(frozen=True, slots=True)
class NoteGrant:
    """One actor's access to one note, decided from live data when asked."""

    can_write: bool
    channel: str  # the event channel where changes to the note's access are announced
    title: str  # the note as stored (to seed a document that does not exist yet)
    body: str


class NoteGate(Protocol):
    async def grant(self, actor: Actor, note_id: str) -> NoteGrant | None:
        """The actor's access to the note, or None if they may not read it (or it is gone)."""
        ...

    async def materialise(self, actor: Actor, note_id: str, title: str, body: str) -> None:
        """Write the live text as the note's next version (one `note.updated`)."""
        ...
