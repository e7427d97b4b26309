"""Devices (IP + user agent) a user has signed in from, for new-login alerts."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class KnownDevice(Document):
    user_id: PydanticObjectId
    fingerprint: str
    ip: str | None = None
    user_agent: str | None = None
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "known_devices"
        indexes = [
            IndexModel(
                [("user_id", ASCENDING), ("fingerprint", ASCENDING)],
                unique=True,
                name="user_fingerprint",
            )
        ]
