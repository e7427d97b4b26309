"""Wire types for uploaded documents."""

from __future__ import annotations

from datetime import datetime

from server.core.wire import Output


class DocumentView(Output):
    id: str
    space_id: str
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str
    status: str  # uploaded -> processing -> ready | failed
    error: str | None
    note_id: str | None
    pages: int
    page_starts: list[int]
    truncated: bool
    uploaded_by: str
    created_at: datetime
    updated_at: datetime


class DocumentStatusChanged(Output):
    document: DocumentView


EVENT_TYPES: dict[str, type] = {"document.status_changed": DocumentStatusChanged}
