"""An uploaded file: kept as uploaded (GridFS) and turned into a read-only document note."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow

Status = Literal["uploaded", "processing", "ready", "failed"]


class UploadedDocument(Document):
    space_id: PydanticObjectId
    filename: str
    content_type: str  # as declared (normalised to the kind's media type)
    kind: str  # pdf, docx, pptx, html, markdown, text
    size: int
    sha256: str
    file_id: PydanticObjectId  # the GridFS file
    status: Status = "uploaded"
    error: str | None = None
    note_id: PydanticObjectId | None = None
    pages: int = 0
    page_starts: list[int] = Field(default_factory=list)  # body offsets where pages begin
    truncated: bool = False
    attempts: int = 0
    uploaded_by: PydanticObjectId
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "uploaded_documents"
        indexes = [
            IndexModel([("space_id", ASCENDING), ("created_at", ASCENDING)], name="space"),
            IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status"),
        ]
