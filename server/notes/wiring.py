"""How spaces and notes join the app (called by the composition root): documents,
managers, routes and hooks into registration and group creation."""

from __future__ import annotations

from typing import Any

from saq.queue.redis import RedisQueue

from server.notes.documents import Note, NoteRevision
from server.notes.manager import NotesManager
from server.notes.routes import ROUTE_HANDLERS
from server.notes.rules import NotesConfig
from server.notes.store import NoteStore
from server.notes.uploads.documents import UploadedDocument
from server.notes.uploads.manager import DocumentManager
from server.notes.uploads.routes import DocumentController
from server.notes.vault.documents import Attachment, VaultImport
from server.notes.vault.exporter import VaultExporter
from server.notes.vault.importer import ImportLimits, VaultImporter
from server.notes.vault.routes import VaultController
from server.spaces.documents import Space
from server.spaces.manager import SpaceManager

NOTE_DOCUMENT_MODELS: list[Any] = [
    Space,
    Note,
    NoteRevision,
    UploadedDocument,
    VaultImport,
    Attachment,
]
NOTE_ROUTE_HANDLERS: list[Any] = [*ROUTE_HANDLERS, DocumentController, VaultController]
QUEUE_NAME = "default"  # the SAQ queue the worker serves (server/app.py)


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
    # Shares the services' Redis client (closed with them); only enqueues, never consumes.
    queue = RedisQueue(services.redis, name=QUEUE_NAME)

    async def enqueue_extraction(document_id: str) -> None:
        """Hand the new upload to the worker (`extract_document`; retried on failure)."""
        await queue.enqueue(
            "extract_document", document_id=document_id, timeout=600, retries=3, key=document_id
        )

    services.documents = DocumentManager(
        store, max_bytes=settings.notes_upload_max_bytes, enqueue=enqueue_extraction
    )

    async def enqueue_import(import_id: str) -> None:
        """Hand the vault to the worker (`import_vault`; a retry resumes, see importer)."""
        await queue.enqueue(
            "import_vault", import_id=import_id, timeout=3600, retries=3, key=import_id
        )

    services.vault_import = VaultImporter(
        store,
        ImportLimits(
            max_bytes=settings.notes_import_max_bytes,
            max_files=settings.notes_import_max_files,
            max_expanded_bytes=settings.notes_import_max_expanded_bytes,
        ),
        enqueue=enqueue_import,
    )
    services.vault_export = VaultExporter(store)
    services.auth.add_user_created_hook(spaces.on_user_created)
    for groups in (services.families, services.workspaces):
        if groups is not None:
            groups.created_hooks.append(spaces.on_group_created)
