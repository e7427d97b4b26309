"""How spaces and notes join the app (called by the composition root): documents,
managers, routes and hooks into registration and group creation."""

from __future__ import annotations

from typing import Any

from server.notes.documents import Note, NoteRevision
from server.notes.manager import NotesManager
from server.notes.routes import ROUTE_HANDLERS
from server.notes.rules import NotesConfig
from server.notes.store import NoteStore
from server.spaces.documents import Space
from server.spaces.manager import SpaceManager

NOTE_DOCUMENT_MODELS: list[Any] = [Space, Note, NoteRevision]
NOTE_ROUTE_HANDLERS: list[Any] = list(ROUTE_HANDLERS)


def notes_config(settings: Any) -> NotesConfig:
    return NotesConfig(
        max_notes_per_space=settings.notes_max_per_space,
        max_bytes_per_space=settings.notes_max_bytes_per_space,
        max_body_bytes=settings.notes_max_body_bytes,
        event_body_max_bytes=settings.notes_event_body_max_bytes,
        trash_retention_days=settings.notes_trash_retention_days,
    )


def attach_notes(services: Any, settings: Any) -> None:
    """Build the space and notes managers onto `services`; spaces are created with their
    owner (registration, family/workspace creation)."""
    spaces = SpaceManager()
    store = NoteStore(
        mongo=services.mongo, bus=services.bus, spaces=spaces, config=notes_config(settings)
    )
    services.spaces = spaces
    services.notes = NotesManager(store)
    services.auth.add_user_created_hook(spaces.on_user_created)
    for groups in (services.families, services.workspaces):
        if groups is not None:
            groups.created_hooks.append(spaces.on_group_created)
