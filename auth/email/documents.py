"""The e-mail outbox: every message is stored first and sent by the worker."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class OutboxEmail(Document):
    kind: str
    to: str
    subject: str
    text: str
    html: str
    user_id: PydanticObjectId | None = None
    status: str = "pending"  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None

    class Settings:
        name = "email_outbox"
        indexes = [
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
            IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)], name="leased"),
            IndexModel([("user_id", ASCENDING)], name="user"),
        ]
