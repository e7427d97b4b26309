"""One audit record: a security event, chained to the record before it by hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow


class AuditRecord(Document):
    """`hash` = SHA-256 over the canonical JSON of every other field, `prev_hash` included.

    `seq` is unique and gap-free, so a deleted or inserted record breaks the chain.
    """

    seq: int
    ts: datetime = Field(default_factory=utcnow)
    event: str
    user_id: PydanticObjectId | None = None
    session_id: str | None = None
    auth_method: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str

    class Settings:
        name = "audit_log"
        indexes = [
            IndexModel([("seq", ASCENDING)], unique=True, name="seq_unique"),
            IndexModel([("user_id", ASCENDING), ("seq", DESCENDING)], name="user_seq"),
        ]
