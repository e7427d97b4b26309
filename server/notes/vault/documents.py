"""Vault imports (one record per uploaded ZIP) and the attachments they bring."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow

ImportStatus = Literal["queued", "running", "completed", "failed"]


class VaultImport(Document):
    """`completed` is set only after every file was handled; a run that dies leaves
    `running` with an old `updated_at`, which the next run takes over (re-import is
    idempotent, keyed on the vault path)."""

    space_id: PydanticObjectId
    file_id: PydanticObjectId  # the ZIP in GridFS
    filename: str
    size: int
    status: ImportStatus = "queued"
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    attachments: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = Field(default_factory=list)  # {path, error}, first 100
    error: str | None = None  # why the whole import failed
    attempts: int = 0
    started_by: PydanticObjectId
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "vault_imports"
        indexes = [IndexModel([("space_id", ASCENDING), ("created_at", ASCENDING)], name="space")]


class Attachment(Document):
    """A non-Markdown vault file (an image, a PDF…), kept at its vault path for export."""

    space_id: PydanticObjectId
    path: str
    file_id: PydanticObjectId
    size: int
    sha256: str
    content_type: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "attachments"
        indexes = [
            IndexModel([("space_id", ASCENDING), ("path", ASCENDING)], unique=True, name="path")
        ]
