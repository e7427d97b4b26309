"""Wire types for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.core.wire import Output


class AuditEventView(Output):
    id: str
    event: str
    at: datetime
    ip: str | None
    user_agent: str | None
    auth_method: str | None
    data: dict[str, Any]


class AuditPage(Output):
    items: list[AuditEventView]
    next_cursor: str | None


class ChainReport(Output):
    ok: bool
    records: int
    broken_at: int | None = None
    reason: str | None = None
