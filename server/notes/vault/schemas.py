"""Wire types and events of vault import/export."""

from __future__ import annotations

from datetime import datetime

from server.core.wire import Output


class ImportView(Output):
    id: str
    space_id: str
    filename: str
    size: int
    status: str  # queued -> running -> completed | failed
    total: int
    done: int
    created: int
    updated: int
    unchanged: int
    attachments: int
    failed: int
    errors: list[dict[str, str]]
    error: str | None
    created_at: datetime
    updated_at: datetime


class AttachmentView(Output):
    id: str
    path: str
    size: int
    content_type: str


class ImportProgress(Output):
    import_id: str
    space_id: str
    total: int
    done: int
    failed: int


class ImportCompleted(Output):
    job: ImportView


EVENT_TYPES: dict[str, type] = {
    "import.progress": ImportProgress,
    "import.completed": ImportCompleted,
}
